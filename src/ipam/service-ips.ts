// Service cluster IPs from the service CIDRs, one per family the service has. Each address in
// use has a reservation key, created only if absent, so two concurrent applies can never get
// the same IP; the key names its service, so applying the same service again keeps its
// addresses. The DNS IPs are reserved for kube-system/kube-dns.
import { dnsIPFor, serviceCIDRFor, serviceFamilies } from '../api/cluster-families.js';
import {
  familyNames,
  planServiceFamilies,
  type ServiceFamilyPlan,
} from '../api/service-families.js';
import type { ClusterNetwork, Service } from '../api/types.js';
import type { Store } from '../store/store.js';
import { OperationError, UsageError } from '../util/errors.js';
import {
  addToIP,
  compareIP,
  containsIP,
  formatCidr,
  formatIP,
  hostCount,
  hostRange,
  parseCidr,
  parseIP,
  sameIP,
  tryParseIP,
  type Cidr,
  type IP,
  parseStored,
} from '../net/index.js';
import { pickFreeAddress } from './pick-free.js';

export const SERVICE_IP_PREFIX = '/podnet/reservations/serviceips/';
/** The Service that the ClusterNetwork's dnsIP belongs to. */
const DNS_SERVICE = 'kube-system/kube-dns';
/** Whose fields serviceCIDR and dnsIP are, in errors about them. */
const CLUSTER_NETWORK = 'ClusterNetwork';

/** `10.96.0.10` → `.../10-96-0-10`; an IPv6 address keeps its colons, which keys allow. */
export function serviceIPKey(ip: IP): string {
  return SERVICE_IP_PREFIX + formatIP(ip).replace(/\./g, '-');
}

function ipOfKey(key: string): IP | undefined {
  const text = key.slice(SERVICE_IP_PREFIX.length);
  return tryParseIP(text.includes(':') ? text : text.replace(/-/g, '.'));
}

const ownerOf = (svc: Service): string =>
  `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;

/**
 * The service with spec.clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy set, one address
 * per family reserved in the store. A refusal after the first reservation leaves it to the
 * caller's journal to undo (the registry admits services through one).
 */
export async function assignClusterIP(
  store: Store,
  svc: Service,
  net: ClusterNetwork['spec'],
): Promise<Service> {
  const out = structuredClone(svc);
  if (out.spec.type === 'ExternalName') {
    // An ExternalName service is a DNS alias: it has no address nor family of its own.
    delete out.spec.clusterIP;
    delete out.spec.clusterIPs;
    delete out.spec.ipFamilies;
    delete out.spec.ipFamilyPolicy;
    return out;
  }
  parseStored(parseCidr, net.serviceCIDR, CLUSTER_NETWORK, 'spec.serviceCIDR');
  const decision = planServiceFamilies(out.spec, serviceFamilies(net));
  if (decision.problem !== undefined) throw new UsageError(decision.problem);
  const { plan } = decision;
  if (out.spec.clusterIP === 'None') return withAllocation(out, ['None'], plan);
  const owner = ownerOf(out);
  const ips: string[] = [];
  for (const [i, family] of plan.families.entries()) {
    const range = serviceCIDRFor(net, family)!;
    const dnsText = dnsIPFor(net, family);
    const dnsIP =
      dnsText === undefined
        ? undefined
        : parseStored(parseIP, dnsText, CLUSTER_NETWORK, 'spec.dnsIPs');
    const field = i === 0 ? 'spec.clusterIP' : `spec.clusterIPs[${i}]`;
    const requested = plan.requested[i];
    const wanted = requested
      ? checkRequested(requested, field, range, dnsIP, owner)
      : owner === DNS_SERVICE
        ? dnsIP
        : undefined;
    const ip = wanted
      ? await reserveRequested(store, wanted, field, owner)
      : await reserveAny(store, range, dnsIP, owner);
    ips.push(formatIP(ip));
  }
  return withAllocation(out, ips, plan);
}

/**
 * The service with its allocated fields written last in one order (the one mergeForApply keeps
 * them in), so that applying the same manifest again stores the same bytes.
 */
function withAllocation(svc: Service, ips: string[], plan: ServiceFamilyPlan): Service {
  const spec = { ...svc.spec };
  delete spec.clusterIP;
  delete spec.clusterIPs;
  delete spec.ipFamilies;
  delete spec.ipFamilyPolicy;
  svc.spec = {
    ...spec,
    ipFamilies: familyNames(plan),
    ipFamilyPolicy: plan.policy,
    clusterIP: ips[0],
    clusterIPs: ips,
  };
  return svc;
}

/**
 * Frees the service's addresses (on delete, or those it no longer has: `keep` are the ones
 * it still holds). Only its own reservations are removed.
 */
export async function releaseClusterIP(
  store: Store,
  svc: Service,
  keep: readonly string[] = [],
): Promise<void> {
  const held = svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : []);
  for (const text of held) {
    const ip = tryParseIP(text);
    if (ip === undefined || keep.some((k) => tryParseIP(k) && sameIP(tryParseIP(k)!, ip))) {
      continue;
    }
    const kv = await store.get(serviceIPKey(ip));
    if (kv && kv.value === ownerOf(svc)) await store.delete(kv.key, kv.modRevision);
  }
}

function checkRequested(
  ip: IP,
  field: string,
  range: Cidr,
  dnsIP: IP | undefined,
  owner: string,
): IP {
  const text = formatIP(ip);
  const { first, last } = hostRange(range);
  if (!containsIP(range, ip) || compareIP(ip, first) < 0 || compareIP(ip, last) > 0) {
    throw new UsageError(
      `${field} ${text}: not a usable address of the service CIDR ${formatCidr(range)}`,
    );
  }
  if (dnsIP && sameIP(ip, dnsIP) && owner !== DNS_SERVICE) {
    throw new UsageError(`${field} ${text}: reserved for the cluster DNS (${DNS_SERVICE})`);
  }
  return ip;
}

async function reserveRequested(store: Store, ip: IP, field: string, owner: string): Promise<IP> {
  const key = serviceIPKey(ip);
  if ((await store.create(key, owner)) !== undefined) return ip;
  const holder = (await store.get(key))?.value;
  if (holder === owner) return ip;
  throw new UsageError(
    `${field} ${formatIP(ip)}: already allocated to service ${holder ?? 'another service'}`,
  );
}

/** A random free address (as Kubernetes does), or the one this service already holds. */
async function reserveAny(
  store: Store,
  range: Cidr,
  dnsIP: IP | undefined,
  owner: string,
): Promise<IP> {
  const { items } = await store.list(SERVICE_IP_PREFIX);
  const taken = new Set<bigint>();
  for (const kv of items) {
    const ip = ipOfKey(kv.key);
    if (ip === undefined) continue;
    if (kv.value === owner && ip.family === range.family) return ip;
    if (containsIP(range, ip)) taken.add(ip.value);
  }
  const { first } = hostRange(range);
  for (;;) {
    const from = addToIP(first, randomBelow(hostCount(range)));
    const ip = pickFreeAddress(range, taken, { from, reserved: dnsIP ? [dnsIP] : [] });
    if (ip === undefined) {
      throw new OperationError(
        `service CIDR ${formatCidr(range)} has no free address left (${taken.size} in use)`,
      );
    }
    if ((await store.create(serviceIPKey(ip), owner)) !== undefined) return ip;
    taken.add(ip.value); // another apply took it first
  }
}

/** A random integer in [0, n); coarse for ranges past 2^53 (IPv6), which is fine for a start. */
function randomBelow(n: bigint): bigint {
  return BigInt(Math.floor(Math.random() * Number(n))) % n;
}
