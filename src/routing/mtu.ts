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
  // Over an IPv4 underlay (IPv6: WIREGUARD_OVER_IPV6).
  wireguard: 60,
};

/** WireGuard's cost over an IPv6 underlay, as on an IPv6-only cluster (40 bytes of IPv6 header). */
const WIREGUARD_OVER_IPV6 = 80;

/** With encryption every peer is reached through WireGuard, whatever the backend. */
/**
 * `ipv6Only`: the cluster's pods are IPv6 alone, so WireGuard runs over the IPv6 underlay (the
 * tunnels of the other backends ride the IPv4 underlay every host has).
 */
export function encapsulationOverhead(
  backend: Backend,
  encryption?: Encryption,
  autoTunnel?: AutoTunnel,
  ipv6Only = false,
): number {
  if (encryption === 'wireguard' || backend === 'wireguard') {
    return ipv6Only ? WIREGUARD_OVER_IPV6 : OVERHEAD.wireguard;
  }
  return backend === 'auto' && autoTunnel === 'ipip' ? OVERHEAD.ipip : OVERHEAD[backend];
}

/** The MTU to give pod interfaces for this backend over an underlay of `underlayMTU`. */
export function podMTU(
  backend: Backend,
  underlayMTU: number,
  encryption?: Encryption,
  autoTunnel?: AutoTunnel,
  ipv6Only = false,
): number {
  return underlayMTU - encapsulationOverhead(backend, encryption, autoTunnel, ipv6Only);
}
