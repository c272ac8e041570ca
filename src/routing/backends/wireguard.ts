// WireGuard: one device (`pn-wg`) and per peer a WireGuard peer (its node address as endpoint,
// its pod subnets as allowed IPs) and an onlink route to each pod subnet through the device.
// Both families ride one device: on a dual-stack cluster a peer's allowed IPs are its IPv4 and
// IPv6 subnets, and its endpoint is its IPv4 underlay address; on an IPv6-only cluster the
// endpoint is its IPv6 underlay address, so no IPv4 is needed anywhere.
// WireGuard picks the peer by the inner destination (cryptokey routing), so the route's
// gateway (the peer subnet's network address) is never resolved; it is there because
// routing's own routes are the podnet-marked routes with a next hop.
// Also the encryption of any other backend: with `encryption: wireguard` every peer is reached
// through pn-wg, and the backend's own devices stay so that turning encryption off swaps each
// route back in place.
import type { WireguardLink, WireguardPeer } from '../../kernel/netobjects.js';
import { formatIP, parseCidr, parseIP } from '../../net/index.js';
import {
  emptyState,
  hostSysctls,
  type BackendDriver,
  type BackendInput,
  type DesiredState,
} from '../desired.js';
import { hasIPv4Pods, ipv6Sysctls } from '../ipv6.js';
import { WIREGUARD_OVERHEAD } from '../mtu.js';
import { subnetAddress, type Host } from '../peers.js';

export const WIREGUARD_DEVICE = 'pn-wg';
export const WIREGUARD_PORT = 51820;
/** The MTU cost of WireGuard over an underlay of this family. */
export function wireguardOverhead(nodeIP: string): number {
  return WIREGUARD_OVERHEAD[parseIP(nodeIP).family];
}

/**
 * The underlay address a host's WireGuard is reached at: its IPv6 one on an IPv6-only cluster
 * (where it has one), else its IPv4 one.
 */
function endpointAddress(host: Host, ipv6Only: boolean): string {
  return ipv6Only && host.ipv6 ? host.ipv6 : host.ip;
}

export function wireguardEndpoint(peer: Host, ipv6Only = false): string {
  const ip = parseIP(endpointAddress(peer, ipv6Only));
  return ip.family === 6
    ? `[${formatIP(ip)}]:${WIREGUARD_PORT}`
    : `${formatIP(ip)}:${WIREGUARD_PORT}`;
}

/** A host's pod subnets, both families (one on a single-family cluster). */
export function podSubnets(host: Host): string[] {
  return host.podCIDRIPv6 && host.podCIDRIPv6 !== host.podCIDR
    ? [host.podCIDR, host.podCIDRIPv6]
    : [host.podCIDR];
}

/** The device's own address in a pod subnet: its network address, alone (/32 or /128). */
function deviceAddress(podCIDR: string): string {
  const bits = parseCidr(podCIDR, { loose: true }).family === 6 ? 128 : 32;
  return `${subnetAddress(podCIDR)}/${bits}`;
}

/** The device, or undefined while this node has no key yet (then no peer can be reached). */
export function wireguardDevice(input: BackendInput): WireguardLink | undefined {
  const { self, underlay, wireguard } = input;
  if (!wireguard) return undefined;
  return {
    kind: 'wireguard',
    name: WIREGUARD_DEVICE,
    userspace: wireguard.userspace,
    mtu: underlay.mtu - wireguardOverhead(endpointAddress(self, !hasIPv4Pods(self))),
    addresses: podSubnets(self).map(deviceAddress),
    listenPort: WIREGUARD_PORT,
    publicKey: wireguard.publicKey,
    privateKeyFile: wireguard.privateKeyFile,
    peers: [],
  };
}

/** Adds the WireGuard peer and the route that reach `peer` through `device`. */
export function addWireguardPeer(
  state: DesiredState,
  device: WireguardLink | undefined,
  peer: Host,
  ipv6Only = false,
): void {
  if (!device) {
    state.problems.push({ peer: peer.name, reason: 'this node has no WireGuard key yet' });
    return;
  }
  if (!peer.wireguardKey) {
    state.problems.push({ peer: peer.name, reason: 'has not published its WireGuard key yet' });
    return;
  }
  const subnets = podSubnets(peer);
  const wgPeer: WireguardPeer = {
    publicKey: peer.wireguardKey,
    endpoint: wireguardEndpoint(peer, ipv6Only),
    allowedIPs: subnets,
  };
  device.peers.push(wgPeer);
  for (const dst of subnets) {
    state.routes.push({ dst, gateway: subnetAddress(dst), dev: WIREGUARD_DEVICE, onlink: true });
  }
}

/** The backend's desired state with every peer reached through WireGuard instead. */
export function encrypted(base: DesiredState, input: BackendInput): DesiredState {
  const state = emptyState();
  const device = wireguardDevice(input);
  const ipv6Only = !hasIPv4Pods(input.self);
  state.links = [...base.links, ...(device ? [device] : [])];
  for (const peer of input.peers) addWireguardPeer(state, device, peer, ipv6Only);
  // The IPv4 ones for the devices, what the base wanted beside them, and IPv6 forwarding for
  // IPv6 pods (the wireguard backend alone has no base to bring it).
  const sysctls = hostSysctls(input.underlay, state.links);
  sysctls.push(...missing(sysctls, base.sysctls));
  if (input.self.podCIDRIPv6) sysctls.push(...missing(sysctls, ipv6Sysctls(input.underlay)));
  state.sysctls = sysctls;
  return state;
}

/** The sysctls of `wanted` that `have` does not set yet. */
function missing<T extends { key: string }>(have: readonly { key: string }[], wanted: T[]): T[] {
  const keys = new Set(have.map((s) => s.key));
  return wanted.filter((s) => !keys.has(s.key));
}

export const wireguard: BackendDriver = {
  name: 'wireguard',
  desired: (input) => encrypted(emptyState(), input),
};

/** The network address of a pod subnet (`10.244.3.0` for `10.244.3.0/24`): the device's own address. */
