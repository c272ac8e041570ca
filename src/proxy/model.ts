// What the proxy programs, in the proxy's own words: one entry per service port with its
// cluster IP and the ready endpoints behind it. Both rule renderers (iptables, nftables) read
// only this, so they never see Service or Pod objects.
import { createHash } from 'node:crypto';
import {
  compareIP,
  containsIP,
  parseCidr,
  parseIP,
  tryParseIP,
  type Cidr,
  type Family,
} from '../net/index.js';

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface Endpoint {
  ip: string;
  port: number;
}

export interface ServicePortRule {
  /** `namespace/name:portName` (Kubernetes' ServicePortName; portName may be empty). */
  name: string;
  clusterIP: string;
  protocol: L4Protocol;
  port: number;
  /** Set when the service is of type NodePort. */
  nodePort?: number;
  /** `sessionAffinity: ClientIP`: how long a client stays with its endpoint. */
  affinitySeconds?: number;
  /** Ready endpoints, sorted by ip then port (so renderings are stable). */
  endpoints: Endpoint[];
}

/**
 * Cluster-wide address ranges the rules need (from the ClusterNetwork), of the one family a
 * proxier programs: each family has its own proxier, tables and ranges.
 */
export interface ProxyNetwork {
  /** The address family of the rules (IPv4 when absent). */
  family?: Family;
  clusterCIDR: string;
  serviceCIDR: string;
  /**
   * This node's pod subnet. Hairpin traffic (a pod reaching itself through its service) can
   * only start on the pod's own node, so only endpoints in it get hairpin rules. Unknown:
   * every endpoint does.
   */
  nodePodCIDR?: string;
}

/** kube-proxy's default ClientIP affinity timeout (3 h). */
export const DEFAULT_AFFINITY_SECONDS = 10800;

/** Mark bit asking POSTROUTING to masquerade (kube-proxy's 0x4000). */
export const MASQ_MARK = 0x4000;

/** A stable key for a service port: its name plus protocol (names may repeat across protocols). */
export function portKey(rule: Pick<ServicePortRule, 'name' | 'protocol'>): string {
  return `${rule.name}/${rule.protocol}`;
}

export function endpointText(ep: Endpoint): string {
  return `${ep.ip}:${ep.port}`;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (no padding) of the first bytes of `buf`, `chars` characters long. */
function base32(buf: Buffer, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
    if (out.length >= chars) break;
  }
  return out;
}

/**
 * 16 characters of base32(sha256(parts)), kube-proxy's way to derive chain names from what
 * they serve: the name is never stored, so a restarted proxy finds its own chains again.
 */
export function nameHash(...parts: string[]): string {
  return base32(createHash('sha256').update(parts.join('\u0000')).digest(), 16);
}

/** Hash naming the chain of one service port. */
export function serviceHash(rule: Pick<ServicePortRule, 'name' | 'protocol'>): string {
  return nameHash(portKey(rule));
}

/** Hash naming the chain of one endpoint of one service port. */
export function endpointHash(
  rule: Pick<ServicePortRule, 'name' | 'protocol'>,
  ep: Endpoint,
): string {
  return nameHash(portKey(rule), endpointText(ep));
}

/**
 * The endpoints ordered by address (IPv4 before IPv6) then port; each address parsed once.
 * With `family`, only the endpoints of that family (a proxier serves one).
 */
export function sortEndpoints(endpoints: Iterable<Endpoint>, family?: Family): Endpoint[] {
  let keyed = [...endpoints].map((ep) => ({ ep, ip: parseIP(ep.ip) }));
  if (family !== undefined) keyed = keyed.filter((k) => k.ip.family === family);
  keyed.sort((a, b) => compareIP(a.ip, b.ip) || a.ep.port - b.ep.port);
  return keyed.map((k) => k.ep);
}

/** The family of the rules a network describes. */
export function familyOf(net: ProxyNetwork): Family {
  return net.family ?? 4;
}

/** The address of one family among a service's cluster IPs (`clusterIPs`, else `clusterIP`). */
export function clusterIPFor(clusterIPs: readonly string[], family: Family): string | undefined {
  // An address of neither family (written past validation) is not dropped in silence: it goes
  // to the IPv4 rules, whose kernel refuses it, and the failed sync shows on /healthz.
  return clusterIPs.find((ip) => (tryParseIP(ip)?.family ?? 4) === family);
}

/** An endpoint as a NAT target: `10.0.0.1:80`, `[fd00::1]:80`. */
export function natTarget(ep: Endpoint, family: Family): string {
  return family === 6 ? `[${ep.ip}]:${ep.port}` : endpointText(ep);
}

/** Endpoints a pod on this node could reach through its own service (see nodePodCIDR). */
export function mayHairpin(ep: Endpoint, net: ProxyNetwork): boolean {
  if (net.nodePodCIDR === undefined) return true;
  return containsIP(nodePodPrefix(net.nodePodCIDR), parseIP(ep.ip));
}

// A full sync asks once per endpoint (100k at 10k services) about the same node subnet.
let lastNodePodPrefix: { text: string; cidr: Cidr } | undefined;

function nodePodPrefix(text: string): Cidr {
  if (lastNodePodPrefix?.text !== text) {
    lastNodePodPrefix = { text, cidr: parseCidr(text, { loose: true }) };
  }
  return lastNodePodPrefix.cidr;
}

/** Everything a service port's rules depend on besides its name, as one string (cheap). */
export function ruleFingerprint(r: ServicePortRule): string {
  let s = `${r.clusterIP}|${r.protocol}|${r.port}|${r.nodePort ?? ''}|${r.affinitySeconds ?? ''}|`;
  for (const ep of r.endpoints) s += `${ep.ip}:${ep.port},`;
  return s;
}
