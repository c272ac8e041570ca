// VXLAN, flannel-compatible: one device (VNI 1, UDP 8472, no learning) and per peer a
// permanent neighbour (peer subnet .0 → peer VTEP MAC), a permanent FDB entry (MAC → peer
// node IP) and an onlink route via .0 — the route last, so the kernel never has to ARP.
import type { VxlanLink } from '../../kernel/netobjects.js';
import {
  hostSysctls,
  emptyState,
  type BackendDriver,
  type BackendInput,
  type DesiredState,
} from '../desired.js';
import { subnetAddress, type Host } from '../peers.js';

export const VXLAN_DEVICE = 'pn-vxlan';
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 8472;
/** Outer IPv4 + UDP + VXLAN + inner Ethernet headers. */
export const VXLAN_OVERHEAD = 50;

/**
 * The VXLAN device of one pod family: `pn-vxlan` for IPv4 pods by default. Every family's
 * device carries the node's one published VTEP MAC, so peers need no second one.
 */
export function vxlanDevice(
  { self, underlay, vtepMac }: BackendInput,
  family: { name: string; vni: number; podCIDR: string; hostPrefix: number } = {
    name: VXLAN_DEVICE,
    vni: VXLAN_VNI,
    podCIDR: self.podCIDR,
    hostPrefix: 32,
  },
): VxlanLink {
  return {
    kind: 'vxlan',
    name: family.name,
    vni: family.vni,
    port: VXLAN_PORT,
    local: self.ip,
    underlayDev: underlay.dev,
    learning: false,
    mtu: underlay.mtu - VXLAN_OVERHEAD,
    mac: vtepMac,
    // The subnet's network address gives the host a source address on the tunnel.
    addresses: [`${subnetAddress(family.podCIDR)}/${family.hostPrefix}`],
  };
}

/** Adds the neighbour, FDB entry and route that reach `peer` through the tunnel. */
export function addVxlanPeer(state: DesiredState, peer: Host): void {
  if (!peer.vtepMac) {
    state.problems.push({ peer: peer.name, reason: 'has not published its VTEP MAC yet' });
    return;
  }
  const gateway = subnetAddress(peer.podCIDR);
  state.neighbours.push({ dev: VXLAN_DEVICE, ip: gateway, mac: peer.vtepMac });
  state.fdb.push({ dev: VXLAN_DEVICE, mac: peer.vtepMac, dst: peer.ip });
  state.routes.push({ dst: peer.podCIDR, gateway, dev: VXLAN_DEVICE, onlink: true });
}

export const vxlan: BackendDriver = {
  name: 'vxlan',
  desired(input) {
    const state = emptyState();
    state.links.push(vxlanDevice(input));
    for (const peer of input.peers) addVxlanPeer(state, peer);
    state.sysctls = hostSysctls(input.underlay, state.links);
    return state;
  },
};

/** The network address of a pod subnet (`10.244.3.0` for `10.244.3.0/24`): the tunnel's own address. */
