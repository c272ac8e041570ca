// Where a route podnet installed came from when routing is BGP's: the session it was learnt
// over and what its next hop is — a node, or a router (a fabric, a top-of-rack switch) that
// forwards for the nodes behind it. Pure: the route's gateway, the Nodes and the sessions in.
import type { Node } from '../api/types.js';
import type { NodeBgpStatus } from '../bgp/status-store.js';
import type { RouteFact } from '../kernel/host-facts.js';

export function bgpRouteOrigin(
  gateway: string | undefined,
  nodes: readonly Node[],
  status: NodeBgpStatus | undefined,
): string {
  const established = status?.peers.filter((p) => p.state === 'Established') ?? [];
  // Over one session every route came from that peer; over several, from the one it names.
  const peer =
    established.find((p) => p.address === gateway) ??
    (established.length === 1 ? established[0] : undefined);
  const source = peer
    ? `learned by BGP from ${peer.address} AS ${peer.asNumber}`
    : 'learned by BGP';
  if (!gateway) return `${source}, no next hop`;
  const owner = nodes.find((n) =>
    n.status?.addresses?.some((a) => a.type === 'InternalIP' && a.address === gateway),
  );
  return owner
    ? `${source}, next hop ${owner.metadata.name} ${gateway}`
    : `${source}, next hop router ${gateway}`;
}

/** The subnet routes BGP installed (proto 80 with a gateway), prefix → next hop. */
export function learnedRoutes(
  routes: readonly RouteFact[],
  podnetDevices: readonly string[],
): Map<string, { nextHop: string }> {
  const learned = new Map<string, { nextHop: string }>();
  for (const r of routes) {
    if (r.gateway && r.dst.includes('/') && !podnetDevices.includes(r.dev ?? '')) {
      learned.set(r.dst, { nextHop: r.gateway });
    }
  }
  return learned;
}
