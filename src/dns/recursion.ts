// Who may have names outside the cluster resolved: the cluster's pods and services (its
// ClusterNetwork's ranges), its nodes, and the ranges the operator adds. Anyone else is refused
// those names, so the server is no open resolver for spoofed queries to reflect off; the
// cluster's own names are answered for everyone, as they are the server's to give.
import { clusterCIDRsOf, serviceCIDRsOf } from '../api/cluster-families.js';
import type { ClusterNetwork } from '../api/types.js';
import { cidrOf, containsIP, tryParseCidr, tryParseIP, type Cidr, type IP } from '../net/index.js';

/** The ranges a server assumes before it has read the ClusterNetwork (the lab's defaults). */
const DEFAULT_CLUSTER_RANGES = ['10.244.0.0/16', '10.96.0.0/16'];

/** Every range whose clients may ask for names outside the cluster. */
export function recursionRanges(
  network: ClusterNetwork['spec'] | undefined,
  nodeAddresses: Iterable<string>,
  extra: readonly Cidr[],
): Cidr[] {
  const ranges: Cidr[] = [...extra];
  const cidrs = network
    ? [...clusterCIDRsOf(network), ...serviceCIDRsOf(network)]
    : DEFAULT_CLUSTER_RANGES;
  for (const text of cidrs) {
    const cidr = tryParseCidr(text, { loose: true });
    if (cidr) ranges.push(cidr);
  }
  for (const text of nodeAddresses) {
    const ip = tryParseIP(text);
    if (ip) ranges.push(cidrOf(ip, ip.family === 4 ? 32 : 128));
  }
  return ranges;
}

/**
 * The client's address as a socket reports it: an IPv4 client of a dual-stack socket arrives
 * as `::ffff:a.b.c.d` and is judged as the IPv4 address it is.
 */
export function clientAddress(text: string): IP | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  return tryParseIP(mapped ? mapped[1]! : text);
}

/** Whether a client at `address` is inside one of `ranges`. */
export function mayRecurse(ranges: readonly Cidr[], address: string): boolean {
  const ip = clientAddress(address);
  return ip !== undefined && ranges.some((range) => containsIP(range, ip));
}
