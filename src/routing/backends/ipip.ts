// IP-in-IP, Calico-style: one tunnel device with any remote, and per peer an onlink route via
// the peer's node IP (the kernel uses the gateway as the outer destination). Where the kernel
// has no IP-in-IP module (CONFIG_NET_IPIP), tc BPF programs on the underlay do the same on the
// wire: each peer's pod subnet is routed out of the underlay towards the peer, with a route MTU
// that leaves room for the outer header (so the kernel answers a too-big DF packet with
// fragmentation-needed), and the egress program wraps what it sends.
import type { IpipLink, Route } from '../../kernel/netobjects.js';
import {
  hostSysctls,
  emptyState,
  type BackendDriver,
  type BackendInput,
  type DesiredState,
} from '../desired.js';
import { subnetAddress, type Host } from '../peers.js';
import { cidrOf, containsIP, parseIP } from '../../net/index.js';

export const IPIP_DEVICE = 'pn-ipip';
/** The outer IPv4 header. */
export const IPIP_OVERHEAD = 20;

export function ipipDevice({ self, underlay }: BackendInput): IpipLink {
  return {
    kind: 'ipip',
    name: IPIP_DEVICE,
    local: self.ip,
    mtu: underlay.mtu - IPIP_OVERHEAD,
    addresses: [`${subnetAddress(self.podCIDR)}/32`],
  };
}

export const ipip: BackendDriver = {
  name: 'ipip',
  needs: 'ipip',
  desired(input) {
    const state = ipipState(input);
    for (const peer of input.peers) addIpipPeer(state, input, peer);
    state.sysctls = hostSysctls(input.underlay, state.links);
    return state;
  },
};

/** An empty state with what IP-in-IP needs before any peer: the device, or the BPF peer list. */
export function ipipState(input: BackendInput): DesiredState {
  if (input.ipipBpf) return { ...emptyState(), ipipTunnels: [] };
  const state = emptyState();
  state.links.push(ipipDevice(input));
  return state;
}

/** Adds the route (and for the BPF programs, the tunnel) that reach `peer` through IP-in-IP. */
export function addIpipPeer(state: DesiredState, input: BackendInput, peer: Host): void {
  if (!input.ipipBpf) {
    state.routes.push({ dst: peer.podCIDR, gateway: peer.ip, dev: IPIP_DEVICE, onlink: true });
    return;
  }
  const route = bpfRoute(input, peer);
  if (!route) {
    const { underlay } = input;
    state.problems.push({
      peer: peer.name,
      reason: `${peer.ip} is outside ${underlay.dev}'s subnet and ${underlay.dev} has no default gateway`,
    });
    return;
  }
  state.routes.push(route);
  state.ipipTunnels!.push({ podCIDR: peer.podCIDR, remote: peer.ip, local: input.self.ip });
}

/**
 * The route that brings a peer's pod traffic to the underlay's egress program: through the
 * same next hop as the peer's own address (the peer itself on the underlay's subnet, else the
 * default gateway), so the frame is already addressed for the outer packet.
 */
function bpfRoute({ underlay }: BackendInput, peer: Host): Route | undefined {
  const subnet = cidrOf(parseIP(underlay.address), underlay.prefixLength);
  const nextHop = containsIP(subnet, parseIP(peer.ip)) ? peer.ip : underlay.gateway;
  if (nextHop === undefined) return undefined;
  return {
    dst: peer.podCIDR,
    gateway: nextHop,
    dev: underlay.dev,
    onlink: true,
    mtu: underlay.mtu - IPIP_OVERHEAD,
  };
}

/** The network address of a pod subnet (`10.244.3.0` for `10.244.3.0/24`): the tunnel's own address. */
