// BGP in a cluster, as pure functions of the cluster's objects: whom a node peers with (full
// iBGP mesh, or route reflectors chosen by a label, plus BGPPeer routers), and what the
// routing reconciler should route to once BGP has spoken (Nodes whose pod subnet and address
// are what BGP learnt). A node with an IPv6 pod subnet also carries IPv6 unicast, with its IPv6
// InternalIP as the next hop. Sessions run over the family of the cluster's first pod network:
// on a dual-stack cluster one IPv4 session per peer carries both families (multiprotocol), on an
// IPv6-only cluster the sessions run over IPv6 between the nodes' IPv6 InternalIPs and carry
// IPv6 alone. A BGPPeer is reached over its own address's family.
import { nodeInternalIP, nodePodCIDR } from '../api/node-network.js';
import {
  LABEL_ROUTE_REFLECTOR,
  LABEL_ZONE,
  type BGPPeer,
  type BGPSettings,
  type Node,
} from '../api/types.js';
import {
  compareIP,
  containsCidr,
  formatCidr,
  formatIP,
  formatIPv4Word,
  ipBytes,
  parseCidr,
  parseIP,
  tryParseCidr,
  tryParseIP,
  type IP,
  parseStored,
} from '../net/index.js';
import type { PeerConfig, SpeakerConfig } from './speaker.js';

export const DEFAULT_BGP: Required<BGPSettings> = {
  asNumber: 64512,
  holdTime: 90,
  gracefulRestartTime: 120,
  nodeToNodeMesh: true,
};

export function nodeIP(node: Node): string | undefined {
  return nodeInternalIP(node);
}

export function isRouteReflector(node: Node): boolean {
  const v = node.metadata.labels?.[LABEL_ROUTE_REFLECTOR];
  return v !== undefined && v !== 'false';
}

function selects(selector: Record<string, string> | undefined, node: Node): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => node.metadata.labels?.[k] === v);
}

/** The node's InternalIP as an address; a malformed one is a DataError naming the node. */
function nodeAddress(node: Node, text: string): IP {
  return parseStored(parseIP, text, `Node ${node.metadata.name}`, 'InternalIP');
}

/** The node's IPv6 pod subnet (its only one on an IPv6-only cluster), as the kernel prints it. */
function ipv6PodCIDR(node: Node): string | undefined {
  const primary = nodePodCIDR(node);
  const cidr = [...(primary ? [primary] : []), ...(node.spec.podCIDRs ?? [])]
    .map((text) => tryParseCidr(text, { loose: true }))
    .find((c) => c?.family === 6);
  return cidr && formatCidr(cidr);
}

/** The node's InternalIP of `family`, as the kernel prints it. */
function internalIPOf(node: Node, family: 4 | 6): string | undefined {
  const ip = (node.status?.addresses ?? [])
    .filter((a) => a.type === 'InternalIP')
    .map((a) => tryParseIP(a.address))
    .find((a) => a?.family === family);
  return ip && formatIP(ip);
}

/** The node's IPv6 InternalIP, as the kernel prints it. */
function ipv6InternalIP(node: Node): string | undefined {
  return internalIPOf(node, 6);
}

/**
 * The family BGP sessions between nodes run over: IPv6 on an IPv6-only cluster (the node's
 * one pod subnet is IPv6), else IPv4.
 */
export function sessionFamily(self: Node): 4 | 6 {
  const podCIDR = nodePodCIDR(self);
  return podCIDR && tryParseCidr(podCIDR, { loose: true })?.family === 6 ? 6 : 4;
}

/** The address a node's BGP sessions of `family` run from (and its peers know it by). */
export function sessionAddress(node: Node, family: 4 | 6): string | undefined {
  if (family === 6) return ipv6InternalIP(node);
  const ip = nodeIP(node);
  // A malformed address is kept, for the plan to report as the Node's data error.
  return ip && tryParseIP(ip)?.family !== 6 ? ip : internalIPOf(node, 4);
}

/**
 * The node's BGP identifier, a 32-bit number whatever the sessions' family (RFC 6286 asks only
 * that it be unique in the AS): its IPv4 underlay address when it has one, as BIRD and FRR pick
 * an IPv4 address of the host; else, on an IPv6-only host, a 32-bit FNV-1a hash of its IPv6
 * InternalIP, unique as that address is unless two hashes collide. Never 0.0.0.0, which the
 * protocol forbids.
 */
export function routerId(node: Node): string | undefined {
  const ipv4 = sessionAddress(node, 4);
  if (ipv4) return ipv4;
  const ipv6 = ipv6InternalIP(node);
  if (!ipv6) return undefined;
  let hash = 0x811c9dc5;
  for (const byte of ipBytes(parseIP(ipv6))) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return formatIPv4Word(hash === 0 ? 1 : hash);
}

export interface NodeBgpPlan {
  speaker: Pick<
    SpeakerConfig,
    'asNumber' | 'bgpId' | 'routeReflector' | 'holdTime' | 'ipv6Unicast' | 'ipv6NextHop'
  > & {
    gracefulRestartTime: number;
    /** The node's address of the sessions' family: where it listens for its peers. */
    listenAddress: string;
  };
  /** With, for keyed BGPPeer routers, the file on this node that holds the TCP-MD5 key. */
  peers: (PeerConfig & { passwordFile?: string })[];
  /** What this node originates: its pod subnets, the aggregates (never per-pod routes). */
  localPrefixes: string[];
}

/**
 * This node's speaker settings and peers. Without route reflectors every node peers with every
 * other (one side of each pair passive, the higher address, as Calico does, so the pair opens
 * one connection). With reflectors, reflectors peer with every node (the others as clients)
 * and the other nodes only with the reflectors. BGPPeer routers matching the node come on top.
 */
export function nodeBgpPlan(
  self: Node,
  nodes: readonly Node[],
  bgpPeers: readonly BGPPeer[],
  settings: BGPSettings = {},
): NodeBgpPlan | undefined {
  const family = sessionFamily(self);
  const selfIP = sessionAddress(self, family);
  const bgpId = routerId(self);
  if (!selfIP || !bgpId) return undefined;
  const selfAddress = nodeAddress(self, selfIP);
  /** Our end of a session to `address`: the node's own address of that family. */
  const localAddressFor = (address: IP): string | undefined =>
    address.family === family ? selfIP : sessionAddress(self, address.family);
  const s = { ...DEFAULT_BGP, ...settings };
  const reflectors = nodes.filter(isRouteReflector);
  const selfIsReflector = isRouteReflector(self);
  const peers = new Map<string, NodeBgpPlan['peers'][number]>();
  /** Each peer's address, parsed once, to order the peers by. */
  const addresses = new Map<string, IP>();
  for (const node of nodes) {
    const ip = sessionAddress(node, family);
    if (!ip || node.metadata.name === self.metadata.name) continue;
    const reflector = isRouteReflector(node);
    // Reflectors always peer with every node; the other nodes mesh only if asked to.
    if (!selfIsReflector && !reflector && (reflectors.length > 0 || !s.nodeToNodeMesh)) continue;
    const address = nodeAddress(node, ip);
    addresses.set(ip, address);
    peers.set(ip, {
      address: ip,
      asNumber: s.asNumber,
      localAddress: selfIP,
      passive: compareIP(selfAddress, address) > 0,
      ...(selfIsReflector && !reflector ? { rrClient: true } : {}),
    });
  }
  for (const p of bgpPeers) {
    if (!selects(p.spec.nodeSelector, self)) continue;
    const where = `BGPPeer ${p.metadata.name}`;
    const peerAddress = parseStored(parseIP, p.spec.peerIP, where, 'spec.peerIP');
    // As the kernel prints it: an incoming connection is matched to its peer by that text.
    const peerIP = formatIP(peerAddress);
    const localAddress = localAddressFor(peerAddress);
    addresses.set(peerIP, peerAddress);
    peers.set(peerIP, {
      address: peerIP,
      asNumber: p.spec.asNumber,
      ...(localAddress ? { localAddress } : {}),
      ...(p.spec.passwordFile ? { passwordFile: p.spec.passwordFile } : {}),
    });
  }
  const podCIDR = nodePodCIDR(self);
  // Checked here, where the Node is known, rather than when the codec meets it on the wire.
  if (podCIDR) parseStored(parseCidr, podCIDR, `Node ${self.metadata.name}`, 'spec.podCIDR');
  const podCIDRIPv6 = ipv6PodCIDR(self);
  const ipv6NextHop = ipv6InternalIP(self);
  const prefixes = new Set([
    ...(podCIDR && family === 4 ? [podCIDR] : []),
    ...(podCIDRIPv6 && ipv6NextHop ? [podCIDRIPv6] : []),
  ]);
  return {
    speaker: {
      asNumber: s.asNumber,
      bgpId,
      listenAddress: selfIP,
      routeReflector: selfIsReflector,
      holdTime: s.holdTime,
      gracefulRestartTime: s.gracefulRestartTime,
      ...(podCIDRIPv6 ? { ipv6Unicast: true } : {}),
      ...(podCIDRIPv6 && ipv6NextHop ? { ipv6NextHop } : {}),
    },
    peers: [...peers.values()].sort((a, b) =>
      compareIP(addresses.get(a.address)!, addresses.get(b.address)!),
    ),
    localPrefixes: [...prefixes],
  };
}

/**
 * The Nodes the routing reconciler should route to, from what BGP learnt: each learnt
 * prefix becomes a Node with that pod subnet and the next hop as its address. A next hop that
 * is a cluster node keeps that node's name, labels and annotations (zone, VTEP MAC), so the
 * backend can still choose direct routes or encapsulation; a next hop outside the cluster (a
 * router) is taken to be in this node's zone, reached directly.
 *
 * Routing sees a host as an IPv4 pod subnet with an IPv6 one beside it, so a learnt IPv6
 * prefix rides on a Node made for an IPv4 one: the Node's IPv6 subnet and IPv6 address are that
 * prefix and its next hop, which routing reaches on their own. The two families' next hops need
 * not agree (a router may pass on a neighbour's IPv4 next hop but give its own for IPv6). An
 * IPv6 prefix left with no Node to ride on is not routed. On an IPv6-only cluster the IPv6
 * prefixes are the hosts' pod subnets: each makes its own Node, as an IPv4 one does on the others.
 */
export function routedNodes(
  self: Node,
  nodes: readonly Node[],
  learned: ReadonlyMap<string, { nextHop: string }>,
): Node[] {
  const byIP = new Map<string, Node>();
  const byIPv6 = new Map<string, Node>();
  for (const n of nodes) {
    const ip = nodeIP(n);
    if (ip) byIP.set(ip, n);
    const ipv6 = ipv6InternalIP(n);
    if (ipv6) byIPv6.set(ipv6, n);
  }
  const out: Node[] = [self];
  /** Each made Node's next-hop owner (a node's name; '' for a router). */
  const owners: string[] = [];
  const used = new Map<string, number>();
  const sorted = [...learned].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const ipv6: { prefix: string; nextHop: string; owner: string }[] = [];
  // On an IPv6-only cluster IPv6 prefixes are the hosts' own subnets and make Nodes themselves.
  const primary = sessionFamily(self);
  for (const [prefix, { nextHop }] of sorted) {
    const family = parseCidr(prefix, { loose: true }).family;
    if (family !== primary) {
      if (family === 4) continue;
      const owner = byIPv6.get(nextHop)?.metadata.name ?? '';
      if (owner !== self.metadata.name) ipv6.push({ prefix, nextHop, owner });
      continue;
    }
    const owner = (family === 6 ? byIPv6 : byIP).get(nextHop);
    if (owner?.metadata.name === self.metadata.name) continue;
    const base = owner?.metadata.name ?? `bgp-${nextHop}`;
    // A node announcing several prefixes becomes several Nodes, one subnet each.
    const n = used.get(base) ?? 0;
    used.set(base, n + 1);
    const zone = self.metadata.labels?.[LABEL_ZONE];
    owners.push(owner?.metadata.name ?? '');
    out.push({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: n === 0 ? base : `${base}-${n}`,
        // Only what routing reads: not resourceVersion, which every heartbeat changes.
        labels: owner ? (owner.metadata.labels ?? {}) : zone ? { [LABEL_ZONE]: zone } : {},
        ...(owner?.metadata.annotations ? { annotations: owner.metadata.annotations } : {}),
      },
      spec: family === 6 ? { podCIDR: prefix, podCIDRs: [prefix] } : { podCIDR: prefix },
      status: { addresses: [{ type: 'InternalIP', address: nextHop }] },
    });
  }
  // A route through a node first rides on that node's own Nodes (its tunnels are the ones
  // that reach it); the rest, through routers, on whichever Nodes are left.
  const carriers = out.slice(1);
  const place = (route: (typeof ipv6)[number], fits: (i: number) => boolean): boolean => {
    const i = carriers.findIndex((n, at) => !n.spec.podCIDRs && fits(at));
    if (i < 0) return false;
    const carrier = carriers[i]!;
    carrier.spec.podCIDRs = [carrier.spec.podCIDR!, route.prefix];
    carrier.status!.addresses!.push({ type: 'InternalIP', address: route.nextHop });
    return true;
  };
  const unplaced = ipv6.filter((r) => !(r.owner && place(r, (i) => owners[i] === r.owner)));
  for (const r of unplaced) {
    if (!place(r, (i) => owners[i] === '')) place(r, () => true);
  }
  return out;
}

/**
 * The learnt routes less a removed node's: a prefix inside the cluster's pod network that no
 * Node holds as its pod subnet any more. A router that saw the node's session drop keeps its
 * paths as stale for graceful restart (BIRD for the node's restart time, 120 s) and passes them
 * on, but a deleted Node never comes back to refresh them, so routing them sends pods' traffic
 * into a hole. Prefixes outside the pod network (a router's own) are kept as they are.
 */
export function withoutRemovedNodes<Route>(
  learned: ReadonlyMap<string, Route>,
  nodes: readonly Node[],
  clusterCIDRs: readonly string[],
): Map<string, Route> {
  const podNetworks = clusterCIDRs.map((c) => parseCidr(c, { loose: true }));
  const held = new Set<string>();
  for (const n of nodes) {
    for (const text of n.spec.podCIDRs ?? (n.spec.podCIDR ? [n.spec.podCIDR] : [])) {
      const cidr = tryParseCidr(text, { loose: true });
      if (cidr) held.add(formatCidr(cidr));
    }
  }
  const out = new Map<string, Route>();
  for (const [prefix, route] of learned) {
    const cidr = parseCidr(prefix, { loose: true });
    const ofPods = podNetworks.some((net) => containsCidr(net, cidr));
    if (!ofPods || held.has(formatCidr(cidr))) out.set(prefix, route);
  }
  return out;
}
