// MTUs derive from the underlay's: every encapsulation costs a fixed number of bytes
// (Calico's figures: VXLAN 50, IP-in-IP 20, WireGuard 60 over IPv4 and 80 over IPv6). Pods get
// the smallest MTU any of their paths needs, so a packet never has to be fragmented inside a
// tunnel. The agent, `apply --plan`, `rollout` and `doctor` all take the figure from
// clusterPodMTU / clusterOverhead, so what a plan shows is what the agent sets.
import { clusterCIDRsOf, parsedCIDRs } from '../api/cluster-families.js';
import type { AutoTunnel, Backend, ClusterNetwork, Encryption } from '../api/types.js';

const OVERHEAD: Record<Exclude<Backend, 'wireguard'>, number> = {
  'host-gw': 0,
  vxlan: 50,
  ipip: 20,
  // auto may send any peer through its tunnel: VXLAN unless autoTunnel says ipip.
  auto: 50,
  // cloud may reach a node past the route quota through VXLAN.
  cloud: 50,
};

/** WireGuard's outer IP + UDP + WireGuard header and tag, by the underlay's family. */
export const WIREGUARD_OVERHEAD = { 4: 60, 6: 80 } as const;

/**
 * The bytes a backend adds to every pod packet. With encryption every peer is reached through
 * WireGuard, whatever the backend. `ipv6Only`: the cluster's pods are IPv6 alone, so WireGuard
 * runs over the IPv6 underlay (the tunnels of the other backends ride the IPv4 underlay every
 * host has).
 */
export function encapsulationOverhead(
  backend: Backend,
  encryption?: Encryption,
  autoTunnel?: AutoTunnel,
  ipv6Only = false,
): number {
  if (encryption === 'wireguard' || backend === 'wireguard') {
    return WIREGUARD_OVERHEAD[ipv6Only ? 6 : 4];
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

/**
 * True when every pod network of the cluster is IPv6 (validation lets IPv6 be the primary
 * family only then): its hosts' WireGuard endpoints are their IPv6 underlay addresses.
 */
export function ipv6OnlyCluster(spec: ClusterNetwork['spec']): boolean {
  const cidrs = parsedCIDRs(clusterCIDRsOf(spec));
  return cidrs.length > 0 && cidrs.every((c) => c.family === 6);
}

/** The encapsulation cost of a cluster's settings; `backend` is an agent's override, if any. */
export function clusterOverhead(spec: ClusterNetwork['spec'], backend = spec.backend): number {
  return encapsulationOverhead(backend, spec.encryption, spec.autoTunnel, ipv6OnlyCluster(spec));
}

/** The pod MTU a cluster's settings give: the one every agent sets on its pods. */
export function clusterPodMTU(spec: ClusterNetwork['spec'], backend = spec.backend): number {
  return spec.mtu - clusterOverhead(spec, backend);
}
