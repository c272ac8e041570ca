// Where a route podnet installed came from when routing is BGP's: the session it was learnt
// over and what its next hop is — a node, or a router (a fabric, a top-of-rack switch) that
// forwards for the nodes behind it; and the routes the agent's routing works from. Pure: the
// route's gateway, the Nodes and the published sessions in.
import { nodeInternalIP } from '../api/node-network.js';
import type { Node } from '../api/types.js';
import type { NodeBgpStatus } from '../bgp/status-store.js';

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
  const owner = nodes.find((n) => nodeInternalIP(n) === gateway);
  return owner
    ? `${source}, next hop ${owner.metadata.name} ${gateway}`
    : `${source}, next hop router ${gateway}`;
}

/**
 * The routes a node's agent last handed to its routing, prefix → next hop (what its routing
 * plans the kernel from); undefined when it has published none.
 */
export function learnedRoutes(
  status: NodeBgpStatus | undefined,
): Map<string, { nextHop: string }> | undefined {
  return status?.routes && new Map(status.routes.map((r) => [r.prefix, { nextHop: r.nextHop }]));
}
