// The answer to one question about the cluster, per the Kubernetes DNS specification 1.1.0
// (plus CoreDNS's `a-b-c-d.<ns>.pod.<zone>` pod records, `2001-db8--1.<ns>.pod.<zone>` for IPv6). Pure: a question and a read-only view
// of the cluster go in, records and a response code come out. Keeping the objects up to date is
// cluster-index.ts's job; putting the answer on the wire is the server's.
import type { Answer, RecordType } from 'dns-packet';
import { formatIP, ipBytes, ipFromBytes, isIPv4, tryParseCidr, tryParseIP } from '../net/index.js';

/** The spec version `dns-version.<zone>` announces. */
export const SCHEMA_VERSION = '1.1.0';

export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'REFUSED';

export interface PortRecord {
  /** Only named ports get SRV records. */
  name: string;
  protocol: string;
  port: number;
}

export interface EndpointRecord {
  ip: string;
  /** `spec.hostname` when the pod's `spec.subdomain` names the service, else the dashed IP. */
  hostname: string;
  /** The endpoint's own port per service port name (a named targetPort resolves per pod). */
  ports: PortRecord[];
}

export type ServiceRecord =
  | {
      kind: 'ClusterIP';
      name: string;
      namespace: string;
      clusterIPs: string[];
      ports: PortRecord[];
    }
  | {
      kind: 'Headless';
      name: string;
      namespace: string;
      ports: PortRecord[];
      /** Ready endpoints only, in a stable order. */
      endpoints: EndpointRecord[];
    }
  | {
      kind: 'ExternalName';
      name: string;
      namespace: string;
      externalName: string;
    };

/** What the answering code may ask about the cluster (all names lower-case). */
export interface ClusterView {
  /** Whether the first list of cluster objects has arrived (SERVFAIL before, not NXDOMAIN). */
  readonly synced: boolean;
  namespaceExists(namespace: string): boolean;
  service(namespace: string, name: string): ServiceRecord | undefined;
  /** Fully qualified names (no trailing dot) that point at this IP (canonical text), for PTR. */
  namesForIP(ip: string): string[];
}

export interface ZoneConfig {
  /** The cluster domain, lower-case, no trailing dot (`cluster.local`). */
  domain: string;
  /**
   * Reverse zones this server is authoritative for (`96.10.in-addr.arpa`,
   * `0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa`), lower-case.
   */
  reverseZones: string[];
  /** TTL of every record, and the SOA minimum for negative caching (seconds). */
  ttl: number;
}

export interface AnswerResult {
  kind: 'answer';
  rcode: Rcode;
  authoritative: boolean;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
}

/** An answer, or `forward`: the name is outside every zone this server holds. */
export type Result = AnswerResult | { kind: 'forward' };

export interface Question {
  /** As asked, in the asker's case, without a trailing dot. */
  name: string;
  type: RecordType | string;
  class: string;
}

/** Records at one owner name, before filtering by type; `undefined` when the name does not exist. */
type RecordSet = Answer[] | undefined;

export function answerQuestion(q: Question, view: ClusterView, zone: ZoneConfig): Result {
  const lower = q.name.toLowerCase();
  const inZone = zoneOf(lower, zone);
  if (!inZone) return { kind: 'forward' };
  if (q.class !== 'IN' && q.class !== 'ANY') return bare('REFUSED', false);
  if (q.type === 'AXFR' || q.type === 'IXFR') return bare('REFUSED', true); // no zone transfers
  if (!view.synced) return bare('SERVFAIL', false);

  const labels = inZone.relative === '' ? [] : inZone.relative.split('.');
  const records =
    inZone.zone === zone.domain
      ? clusterRecords(labels, q.name, view, zone)
      : reverseRecords(labels, inZone.zone, q.name, view, zone);
  if (records === undefined) return nxdomain(inZone.zone, zone);
  const answers = selectType(records, q.type);
  return {
    kind: 'answer',
    rcode: 'NOERROR',
    authoritative: true,
    answers,
    // An empty answer (NODATA) carries the SOA too, so resolvers cache it negatively.
    authorities: answers.length === 0 ? [soa(inZone.zone, zone)] : [],
    additionals: q.type === 'SRV' ? srvAdditionals(answers, view, zone) : [],
  };
}

/** The name does not exist: NXDOMAIN with the zone's SOA, so resolvers cache the miss. */
export function nxdomain(zoneName: string, zone: ZoneConfig): AnswerResult {
  return {
    kind: 'answer',
    rcode: 'NXDOMAIN',
    authoritative: true,
    answers: [],
    authorities: [soa(zoneName, zone)],
    additionals: [],
  };
}

/** A response with no records (REFUSED, SERVFAIL, FORMERR). */
export function bare(rcode: Rcode, authoritative: boolean): AnswerResult {
  return { kind: 'answer', rcode, authoritative, answers: [], authorities: [], additionals: [] };
}

/** The zone (cluster or reverse) holding a lower-case name, and the name relative to it. */
export function zoneOf(
  lower: string,
  zone: ZoneConfig,
): { zone: string; relative: string } | undefined {
  for (const z of [zone.domain, ...zone.reverseZones]) {
    if (lower === z) return { zone: z, relative: '' };
    if (lower.endsWith(`.${z}`)) return { zone: z, relative: lower.slice(0, -z.length - 1) };
  }
  return undefined;
}

/** A CNAME answers every type (the resolver follows it); otherwise keep the asked type. */
function selectType(records: Answer[], type: string): Answer[] {
  if (type === 'ANY') return records;
  const cname = records.filter((r) => r.type === 'CNAME');
  if (cname.length > 0) return cname;
  return records.filter((r) => r.type === type);
}

function clusterRecords(
  labels: string[],
  owner: string,
  view: ClusterView,
  zone: ZoneConfig,
): RecordSet {
  const ttl = zone.ttl;
  const n = labels.length;
  if (n === 0) return [soa(zone.domain, zone)];
  const top = labels[n - 1];
  if (n === 1) {
    if (top === 'dns-version') return [{ type: 'TXT', name: owner, ttl, data: SCHEMA_VERSION }];
    if (top === 'svc' || top === 'pod') return []; // empty non-terminals
    return undefined;
  }
  if (top === 'pod') return podRecords(labels, owner, view, ttl);
  if (top !== 'svc') return undefined;

  const namespace = labels[n - 2]!;
  if (n === 2) return view.namespaceExists(namespace) ? [] : undefined;
  const svc = view.service(namespace, labels[n - 3]!);
  if (!svc) return undefined;
  const fqdn = `${svc.name}.${svc.namespace}.svc.${zone.domain}`;
  if (n === 3) return serviceRecords(svc, owner, ttl);
  if (svc.kind === 'ExternalName') return undefined;

  const under = labels[n - 4]!;
  if (n === 4) {
    // `_tcp.<svc>...`: an empty non-terminal when some named port uses that protocol.
    if (under.startsWith('_')) {
      return svc.ports.some((p) => `_${p.protocol.toLowerCase()}` === under) ? [] : undefined;
    }
    if (svc.kind !== 'Headless') return undefined;
    const eps = svc.endpoints.filter((e) => e.hostname === under);
    return eps.length === 0 ? undefined : eps.map((e) => addressRecord(owner, e.ip, ttl));
  }
  if (n !== 5) return undefined;
  const [portLabel, protoLabel] = labels as [string, string];
  if (!portLabel.startsWith('_') || !protoLabel.startsWith('_')) return undefined;
  const port = svc.ports.find(
    (p) => `_${p.name}` === portLabel && `_${p.protocol.toLowerCase()}` === protoLabel,
  );
  if (!port) return undefined;
  if (svc.kind === 'ClusterIP') {
    return [srv(owner, port.port, fqdn, ttl)];
  }
  const records: Answer[] = [];
  for (const ep of svc.endpoints) {
    const epPort = ep.ports.find((p) => p.name === port.name && p.protocol === port.protocol);
    records.push(srv(owner, epPort?.port ?? port.port, `${ep.hostname}.${fqdn}`, ttl));
  }
  return records.length === 0 ? undefined : records;
}

function serviceRecords(svc: ServiceRecord, owner: string, ttl: number): RecordSet {
  switch (svc.kind) {
    case 'ClusterIP':
      return svc.clusterIPs.map((ip) => addressRecord(owner, ip, ttl));
    case 'Headless':
      // A headless service with no ready endpoint has no name (the spec's rule).
      if (svc.endpoints.length === 0) return undefined;
      return svc.endpoints.map((e) => addressRecord(owner, e.ip, ttl));
    case 'ExternalName':
      return [{ type: 'CNAME', name: owner, ttl, data: svc.externalName.replace(/\.$/, '') }];
  }
}

/**
 * CoreDNS `pods insecure`: `a-b-c-d.<ns>.pod.<zone>` answers a.b.c.d for any namespace, and
 * an IPv6 address with its colons as dashes (`2001-db8--1`) answers AAAA.
 */
function podRecords(labels: string[], owner: string, view: ClusterView, ttl: number): RecordSet {
  if (labels.length === 2) return view.namespaceExists(labels[0]!) ? [] : undefined;
  if (labels.length !== 3) return undefined;
  const ip = dashedIP(labels[0]!);
  return ip === undefined ? undefined : [addressRecord(owner, ip, ttl)];
}

function reverseRecords(
  labels: string[],
  reverseZone: string,
  owner: string,
  view: ClusterView,
  zone: ZoneConfig,
): RecordSet {
  const digits = [...labels, ...reverseZone.split('.').slice(0, -2)];
  const ip = reverseZone.endsWith(IP6_ARPA) ? nibbleIP(digits) : octetIP(digits);
  if (ip === 'interior') return []; // an interior node of the reverse tree
  if (ip === undefined) return undefined;
  const names = view.namesForIP(ip);
  if (names.length === 0) return undefined;
  return names.map((data) => ({ type: 'PTR', name: owner, ttl: zone.ttl, data }));
}

/** Address records for the targets of SRV answers, as the spec asks. */
function srvAdditionals(answers: Answer[], view: ClusterView, zone: ZoneConfig): Answer[] {
  const extra: Answer[] = [];
  const seen = new Set<string>();
  for (const a of answers) {
    if (a.type !== 'SRV' || seen.has(a.data.target)) continue;
    seen.add(a.data.target);
    const rel = a.data.target.slice(0, -zone.domain.length - 1).split('.');
    const records = clusterRecords(rel, a.data.target, view, zone) ?? [];
    extra.push(...records.filter((r) => r.type === 'A' || r.type === 'AAAA'));
  }
  return extra;
}

function addressRecord(owner: string, ip: string, ttl: number): Answer {
  return { type: ip.includes(':') ? 'AAAA' : 'A', name: owner, ttl, data: ip };
}

function srv(owner: string, port: number, target: string, ttl: number): Answer {
  return { type: 'SRV', name: owner, ttl, data: { priority: 0, weight: 100, port, target } };
}

/** The zone's SOA; its minimum is the negative-caching TTL (RFC 2308). */
export function soa(zoneName: string, zone: ZoneConfig): Answer {
  return {
    type: 'SOA',
    name: zoneName,
    ttl: zone.ttl,
    data: {
      mname: `ns.dns.${zone.domain}`,
      rname: `hostmaster.${zone.domain}`,
      serial: 1,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: zone.ttl,
    },
  };
}

const IP6_ARPA = 'ip6.arpa';

/** The address a reverse name's octets spell (most significant last), IPv4. */
function octetIP(octets: string[]): string | 'interior' | undefined {
  if (octets.length < 4) return 'interior';
  if (octets.length > 4) return undefined;
  const ip = octets.reverse().join('.');
  return isIPv4(ip) ? ip : undefined;
}

/** The address a reverse name's 32 nibbles spell (RFC 3596), in canonical text. */
function nibbleIP(nibbles: string[]): string | 'interior' | undefined {
  if (!nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
  if (nibbles.length < 32) return 'interior';
  if (nibbles.length > 32) return undefined;
  const hex = nibbles.reverse();
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 2) bytes.push(parseInt(hex[i]! + hex[i + 1]!, 16));
  return formatIP(ipFromBytes(bytes));
}

/** `10-244-1-5` → 10.244.1.5; `2001-db8--1` → 2001:db8::1. */
function dashedIP(label: string): string | undefined {
  const v4 = label.split('-').join('.');
  if (isIPv4(v4)) return v4;
  const v6 = tryParseIP(label.split('-').join(':'));
  return v6?.family === 6 ? formatIP(v6) : undefined;
}

/**
 * Reverse zones for the CIDRs, widened to the label boundary: the octet for IPv4
 * (10.96.0.0/12 → 10.in-addr.arpa), the nibble for IPv6 (fd00:10:96::/112 → its
 * first 28 nibbles, reversed, under ip6.arpa).
 */
export function reverseZonesFor(cidrs: string[]): string[] {
  const zones = new Set<string>();
  for (const text of cidrs) {
    const cidr = tryParseCidr(text, { loose: true });
    if (!cidr) continue;
    const bytes = ipBytes({ family: cidr.family, value: cidr.base });
    if (cidr.family === 4) {
      const octets = Math.max(1, Math.floor(cidr.prefix / 8));
      zones.add(`${bytes.slice(0, octets).reverse().join('.')}.in-addr.arpa`);
      continue;
    }
    const nibbles = bytes.flatMap((b) => [(b >> 4).toString(16), (b & 15).toString(16)]);
    const count = Math.max(1, Math.floor(cidr.prefix / 4));
    zones.add(`${nibbles.slice(0, count).reverse().join('.')}.${IP6_ARPA}`);
  }
  return [...zones];
}
