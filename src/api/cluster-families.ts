// The ClusterNetwork read per address family. The list fields (clusterCIDRs, serviceCIDRs,
// dnsIPs) say which families the cluster has; a cluster that gives only the singular fields is
// single-stack in their family (IPv4 unless they carry IPv6), exactly as before the lists existed.
import {
  addToIP,
  formatIP,
  networkAddress,
  tryParseCidr,
  tryParseIP,
  type Cidr,
  type Family,
} from '../net/index.js';
import type { ClusterNetwork, IPFamily } from './types.js';

type Spec = ClusterNetwork['spec'];

/** The IPv6 node subnet size when none is given: a /64 per node, as SLAAC-sized links are. */
export const DEFAULT_NODE_SUBNET_PREFIX_IPV6 = 64;
/** The cluster DNS takes the tenth address of a service CIDR (10.96.0.10 of 10.96.0.0/16). */
const DNS_IP_OFFSET = 10;

export const FAMILY_NAMES: Record<Family, IPFamily> = { 4: 'IPv4', 6: 'IPv6' };
export const FAMILY_OF_NAME: Record<IPFamily, Family> = { IPv4: 4, IPv6: 6 };

export function clusterCIDRsOf(spec: Spec): string[] {
  return spec.clusterCIDRs ?? [spec.clusterCIDR];
}

export function serviceCIDRsOf(spec: Spec): string[] {
  return spec.serviceCIDRs ?? [spec.serviceCIDR];
}

export function dnsIPsOf(spec: Spec): string[] {
  return spec.dnsIPs ?? [spec.dnsIP];
}

export function nodeSubnetPrefixOf(spec: Spec, family: Family): number {
  return family === 4
    ? spec.nodeSubnetPrefix
    : (spec.nodeSubnetPrefixIPv6 ?? DEFAULT_NODE_SUBNET_PREFIX_IPV6);
}

/** The parsed CIDRs of a list, keeping only those that parse (validation names the others). */
export function parsedCIDRs(texts: string[]): Cidr[] {
  return texts.flatMap((t) => tryParseCidr(t) ?? []);
}

/** The service families of the cluster, primary first: what a service may ask for. */
export function serviceFamilies(spec: Spec): Family[] {
  return parsedCIDRs(serviceCIDRsOf(spec)).map((c) => c.family);
}

/** The service CIDR of one family, if the cluster has that family. */
export function serviceCIDRFor(spec: Spec, family: Family): Cidr | undefined {
  return parsedCIDRs(serviceCIDRsOf(spec)).find((c) => c.family === family);
}

/** The cluster DNS address of one family, if the cluster has that family. */
export function dnsIPFor(spec: Spec, family: Family): string | undefined {
  return dnsIPsOf(spec).find((ip) => tryParseIP(ip)?.family === family);
}

/** The DNS address a service CIDR gets when dnsIPs does not name one of its family. */
export function defaultDnsIP(serviceCIDR: Cidr): string {
  return formatIP(addToIP(networkAddress(serviceCIDR), DNS_IP_OFFSET));
}

/**
 * The spec with its singular fields taken from the lists (the singular field means the
 * list's first entry) and a DNS address for every service family that has none. Pure; the
 * lists are written only when given, so an IPv4-only spec comes back as it was.
 */
export function withFamilyDefaults(spec: Spec, given: Partial<Spec>): Spec {
  const out = { ...spec };
  if (given.clusterCIDRs?.[0] !== undefined && given.clusterCIDR === undefined) {
    out.clusterCIDR = given.clusterCIDRs[0];
  }
  if (given.serviceCIDRs?.[0] !== undefined && given.serviceCIDR === undefined) {
    out.serviceCIDR = given.serviceCIDRs[0];
  }
  if (given.dnsIPs?.[0] !== undefined && given.dnsIP === undefined) out.dnsIP = given.dnsIPs[0];
  const services = parsedCIDRs(serviceCIDRsOf(out));
  const [only, second] = services;
  const dnsUnset = given.dnsIP === undefined && given.dnsIPs === undefined;
  // An IPv6-only cluster's DNS address comes from its service range, as an IPv4 one's does.
  if (dnsUnset && only && !second && tryParseIP(out.dnsIP)?.family !== only.family) {
    out.dnsIP = defaultDnsIP(only);
  }
  if (services.length > 1) {
    const dns = dnsIPsOf(out);
    const missing = services.filter((c) => !dns.some((ip) => tryParseIP(ip)?.family === c.family));
    if (missing.length > 0) out.dnsIPs = [...dns, ...missing.map(defaultDnsIP)];
  }
  return out;
}
