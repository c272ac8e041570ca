// MTUs derive from the underlay's: every encapsulation costs a fixed number of bytes
// (Calico's figures: VXLAN 50, IP-in-IP 20). Pods get the smallest MTU any of their paths
// needs, so a packet never has to be fragmented inside a tunnel.
import type { AutoTunnel, Backend, Encryption } from '../api/types.js';

const OVERHEAD: Record<Backend, number> = {
  'host-gw': 0,
  vxlan: 50,
  ipip: 20,
  // auto may send any peer through its tunnel: VXLAN unless autoTunnel says ipip.
  auto: 50,
  // cloud may reach a node past the route quota through VXLAN.
  cloud: 50,
  // Over an IPv4 underlay (IPv6: 80).
  wireguard: 60,
};

/** With encryption every peer is reached through WireGuard, whatever the backend. */
export function encapsulationOverhead(
  backend: Backend,
  encryption?: Encryption,
  autoTunnel?: AutoTunnel,
): number {
  if (encryption === 'wireguard') return OVERHEAD.wireguard;
  return backend === 'auto' && autoTunnel === 'ipip' ? OVERHEAD.ipip : OVERHEAD[backend];
}

/** The MTU to give pod interfaces for this backend over an underlay of `underlayMTU`. */
export function podMTU(
  backend: Backend,
  underlayMTU: number,
  encryption?: Encryption,
  autoTunnel?: AutoTunnel,
): number {
  return underlayMTU - encapsulationOverhead(backend, encryption, autoTunnel);
}
