// WireGuard: one device (`pn-wg`) and per peer a WireGuard peer (its node address as endpoint,
// its pod subnet as allowed IPs) and an onlink route to its pod subnet through the device.
// WireGuard picks the peer by the inner destination (cryptokey routing), so the route's
// gateway (the peer subnet's network address) is never resolved; it is there because
// routing's own routes are the podnet-marked routes with a next hop.
// Also the encryption of any other backend: with `encryption: wireguard` every peer is reached
// through pn-wg, and the backend's own devices stay so that turning encryption off swaps each
// route back in place.
import type { WireguardLink, WireguardPeer } from '../../kernel/netobjects.js';
import { formatIP, parseIP } from '../../net/index.js';
import {
  emptyState,
  hostSysctls,
  type BackendDriver,
  type BackendInput,
  type DesiredState,
} from '../desired.js';
import { subnetAddress, type Host } from '../peers.js';

export const WIREGUARD_DEVICE = 'pn-wg';
export const WIREGUARD_PORT = 51820;
/** Outer IP + UDP + WireGuard header and tag (Calico's figures). */
export const WIREGUARD_OVERHEAD = { 4: 60, 6: 80 } as const;

/** The MTU cost of WireGuard over an underlay of this family. */
export function wireguardOverhead(nodeIP: string): number {
  return WIREGUARD_OVERHEAD[parseIP(nodeIP).family];
}

export function wireguardEndpoint(peer: Host): string {
  const ip = parseIP(peer.ip);
  return ip.family === 6
    ? `[${formatIP(ip)}]:${WIREGUARD_PORT}`
    : `${formatIP(ip)}:${WIREGUARD_PORT}`;
}

/** The device, or undefined while this node has no key yet (then no peer can be reached). */
export function wireguardDevice(input: BackendInput): WireguardLink | undefined {
  const { self, underlay, wireguard } = input;
  if (!wireguard) return undefined;
  return {
    kind: 'wireguard',
    name: WIREGUARD_DEVICE,
    userspace: wireguard.userspace,
    mtu: underlay.mtu - wireguardOverhead(self.ip),
    addresses: [`${subnetAddress(self.podCIDR)}/32`],
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
): void {
  if (!device) {
    state.problems.push({ peer: peer.name, reason: 'this node has no WireGuard key yet' });
    return;
  }
  if (!peer.wireguardKey) {
    state.problems.push({ peer: peer.name, reason: 'has not published its WireGuard key yet' });
    return;
  }
  const wgPeer: WireguardPeer = {
    publicKey: peer.wireguardKey,
    endpoint: wireguardEndpoint(peer),
    allowedIPs: [peer.podCIDR],
  };
  device.peers.push(wgPeer);
  const gateway = subnetAddress(peer.podCIDR);
  state.routes.push({ dst: peer.podCIDR, gateway, dev: WIREGUARD_DEVICE, onlink: true });
}

/** The backend's desired state with every peer reached through WireGuard instead. */
export function encrypted(base: DesiredState, input: BackendInput): DesiredState {
  const state = emptyState();
  const device = wireguardDevice(input);
  state.links = [...base.links, ...(device ? [device] : [])];
  for (const peer of input.peers) addWireguardPeer(state, device, peer);
  state.sysctls = hostSysctls(input.underlay, state.links);
  return state;
}

export const wireguard: BackendDriver = {
  name: 'wireguard',
  desired: (input) => encrypted(emptyState(), input),
};

/** The network address of a pod subnet (`10.244.3.0` for `10.244.3.0/24`): the device's own address. */
