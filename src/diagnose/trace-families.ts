// Which of a dual-stack cluster's addresses a trace follows: a packet keeps its family end to
// end, so the destination's family picks the source pod's address, the service's cluster IP and
// endpoints, the node's underlay address and pod subnet, and the cluster range it lies in.
import { nodeInternalIP, nodePodCIDR } from '../api/node-network.js';
import { clusterCIDRsOf, dnsIPFor } from '../api/cluster-families.js';
import type { ClusterNetwork, Node, Pod, Service } from '../api/types.js';
import { containsIP, tryParseCidr, tryParseIP, type Family } from '../net/index.js';

/** The family of an address as written, or undefined when it is none. */
export function familyOfText(text: string): Family | undefined {
  return tryParseIP(text)?.family;
}

const sameFamily = (a: string, family: Family): boolean => familyOfText(a) === family;

/** Every address of a pod: status.podIPs, else status.podIP. */
export function podAddresses(pod: Pod): string[] {
  const listed = (pod.status?.podIPs ?? []).map((p) => p.ip);
  const primary = pod.status?.podIP;
  return listed.length > 0 ? listed : primary ? [primary] : [];
}

/** The pod's address of `family`, the one a packet to an address of that family leaves from. */
export function podAddressFor(pod: Pod, family: Family): string | undefined {
  return podAddresses(pod).find((ip) => sameFamily(ip, family));
}

/** The pod that has `ip` among its addresses. */
export function podWithAddress(pods: readonly Pod[], ip: string): Pod | undefined {
  return pods.find((p) => podAddresses(p).includes(ip));
}

/** The service with `ip` among its cluster IPs (spec.clusterIPs, else spec.clusterIP). */
export function serviceWithClusterIP(
  services: readonly Service[],
  ip: string,
): Service | undefined {
  return services.find((s) => (s.spec.clusterIPs ?? [s.spec.clusterIP]).includes(ip));
}

/** The node's underlay address of `family`: the published one for IPv4, its InternalIP else. */
export function nodeAddressFor(node: Node, family: Family): string | undefined {
  if (family === 4) return nodeInternalIP(node);
  return (node.status?.addresses ?? [])
    .filter((a) => a.type === 'InternalIP')
    .map((a) => a.address)
    .find((ip) => sameFamily(ip, family));
}

/** Whether one of the node's pod subnets (either family) holds `ip`. */
export function nodeOwns(node: Node, ip: string): boolean {
  const address = tryParseIP(ip);
  if (!address) return false;
  const primary = nodePodCIDR(node);
  const subnets = [...(node.spec?.podCIDRs ?? []), ...(primary ? [primary] : [])];
  return subnets.some((text) => {
    const subnet = tryParseCidr(text, { loose: true });
    return subnet !== undefined && containsIP(subnet, address);
  });
}

/** The cluster's pod range of `family` (the primary one when it has none of that family). */
export function clusterCIDRFor(network: ClusterNetwork['spec'], family: Family): string {
  return (
    clusterCIDRsOf(network).find((c) => tryParseCidr(c, { loose: true })?.family === family) ??
    network.clusterCIDR
  );
}

/**
 * The family a name is resolved to when none is asked for: that of the source pod's first
 * address, the one its single-stack peers would use (IPv4 on a dual-stack cluster, IPv6 on an
 * IPv6-only one).
 */
export function defaultFamilyOf(pod: Pod): Family {
  const first = podAddresses(pod)[0];
  return (first && familyOfText(first)) || 4;
}

/**
 * How a name is looked up for a trace of `family`: the record type, and the cluster DNS address
 * of that family where the cluster has one (a pod's resolver lists them all, so either serves).
 */
export function dnsQuestionFor(
  network: ClusterNetwork['spec'],
  family: Family,
): { type: 'A' | 'AAAA'; server: string } {
  return { type: family === 4 ? 'A' : 'AAAA', server: dnsIPFor(network, family) ?? network.dnsIP };
}
