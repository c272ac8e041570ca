// The IPv6 half of a host's routing (all of it on an IPv6-only cluster), beside what its backend builds for IPv4 (the
// backend decides per peer and per family): host-gw routes a peer's IPv6 pod subnet via the
// peer's IPv6 underlay address where both share a segment; VXLAN carries IPv6 pods as
// flannel does, on a second device, here over the IPv4 underlay that every host has.
import type { Route, Underlay, VxlanLink } from '../kernel/netobjects.js';
import { containsIP, parseCidr, tryParseCidr, tryParseIP } from '../net/index.js';
import { vxlanDevice } from './backends/vxlan.js';
import type { BackendInput, DesiredState } from './desired.js';
import { subnetAddress, type Host } from './peers.js';

export const VXLAN6_DEVICE = 'pn-vxlan6';
/** Its own VNI: it shares the UDP port and local address with pn-vxlan's VNI 1. */
export const VXLAN6_VNI = 2;

/** Backends that carry IPv6 pods, and how: directly where they can, or through VXLAN. */
const IPV6_WAYS: Record<string, { direct: boolean; tunnel: boolean }> = {
  'host-gw': { direct: true, tunnel: false },
  vxlan: { direct: false, tunnel: true },
  auto: { direct: true, tunnel: true },
};

/**
 * False on an IPv6-only cluster, where the host's one pod subnet is IPv6: the backend's IPv4
 * half has nothing to carry, and only what addIPv6 builds is wanted.
 */
export function hasIPv4Pods(self: Host): boolean {
  return tryParseCidr(self.podCIDR, { loose: true })?.family === 4;
}

/** Adds to `state` what reaches the peers' IPv6 pods, when this host has an IPv6 pod subnet. */
export function addIPv6(state: DesiredState, backend: string, input: BackendInput): void {
  const { self, peers, underlay } = input;
  if (!self.podCIDRIPv6) return;
  state.sysctls.push(...ipv6Sysctls(underlay));
  const ways = IPV6_WAYS[backend];
  const withIPv6 = peers.filter((p) => p.podCIDRIPv6);
  if (backend === 'cloud') {
    addCloudIPv6(state, input, withIPv6);
    return;
  }
  if (!ways) {
    for (const peer of withIPv6) {
      state.problems.push({ peer: peer.name, reason: `backend ${backend} carries IPv4 pods only` });
    }
    return;
  }
  if (ways.tunnel) state.links.push(vxlan6Device(input, self.podCIDRIPv6));
  for (const peer of withIPv6) {
    if (ways.direct && onLinkIPv6(peer, underlay))
      state.routes.push(directIPv6Route(peer, underlay));
    else if (ways.tunnel) addVxlan6Peer(state, peer);
    else {
      state.problems.push({
        peer: peer.name,
        reason: peer.ipv6
          ? `${peer.ipv6} is not on-link (outside ${underlay.dev}'s IPv6 segment)`
          : 'has no IPv6 underlay address to route its IPv6 pods through',
      });
    }
  }
}

/**
 * cloud: the VPC's route tables carry each node's IPv6 pod subnet as they carry its IPv4 one
 * (the host's IPv6 default route leads there), so a routed peer needs nothing here; a pair
 * that goes over VXLAN for IPv4 (a node past the route quota) takes pn-vxlan6 for IPv6. The
 * IPv4 half already names the peers that have no path.
 */
function addCloudIPv6(state: DesiredState, input: BackendInput, withIPv6: Host[]): void {
  const { self } = input;
  const tunnelled = withIPv6.filter(
    (p) => self.cloudRoute === 'overflow' || p.cloudRoute === 'overflow',
  );
  if (tunnelled.length === 0) return;
  state.links.push(vxlan6Device(input, self.podCIDRIPv6!));
  for (const peer of tunnelled) addVxlan6Peer(state, peer);
}

/**
 * Forwarding for IPv6 turns Router Advertisements off on every device unless accept_ra is 2:
 * the underlay keeps the default route it learned from them, as on a real host.
 */
export function ipv6Sysctls(underlay: Underlay): { key: string; value: string }[] {
  return [
    { key: `net.ipv6.conf.${underlay.dev}.accept_ra`, value: '2' },
    { key: 'net.ipv6.conf.all.forwarding', value: '1' },
  ];
}

/** True when the peer's IPv6 underlay address is in this host's IPv6 underlay segment. */
export function onLinkIPv6(peer: Host, underlay: Underlay): boolean {
  const peerIP = peer.ipv6 ? tryParseIP(peer.ipv6) : undefined;
  if (!peerIP || !underlay.ipv6) return false;
  const { address, prefixLength } = underlay.ipv6;
  return containsIP(parseCidr(`${address}/${prefixLength}`, { loose: true }), peerIP);
}

export function directIPv6Route(peer: Host, underlay: Underlay): Route {
  return { dst: peer.podCIDRIPv6!, gateway: peer.ipv6!, dev: underlay.dev, onlink: false };
}

export function vxlan6Device(input: BackendInput, podCIDRIPv6: string): VxlanLink {
  return vxlanDevice(input, {
    name: VXLAN6_DEVICE,
    vni: VXLAN6_VNI,
    podCIDR: podCIDRIPv6,
    hostPrefix: 128,
  });
}

/** The neighbour, FDB entry and route that reach `peer`'s IPv6 pods through pn-vxlan6. */
export function addVxlan6Peer(state: DesiredState, peer: Host): void {
  if (!peer.vtepMac) {
    state.problems.push({ peer: peer.name, reason: 'has not published its VTEP MAC yet' });
    return;
  }
  const gateway = subnetAddress(peer.podCIDRIPv6!);
  state.neighbours.push({ dev: VXLAN6_DEVICE, ip: gateway, mac: peer.vtepMac });
  state.fdb.push({ dev: VXLAN6_DEVICE, mac: peer.vtepMac, dst: peer.ip });
  state.routes.push({ dst: peer.podCIDRIPv6!, gateway, dev: VXLAN6_DEVICE, onlink: true });
}

/** The subnet's first address (never a pod's: IPv6 host ranges leave it out). */
