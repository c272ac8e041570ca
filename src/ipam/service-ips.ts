// Service cluster IPs from the service CIDR. Each address in use has a reservation key,
// created only if absent, so two concurrent applies can never get the same IP; the key
// names its service, so applying the same service again keeps its address. The DNS IP is
// reserved for kube-system/kube-dns.
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
  parseInput,
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

/** The service with spec.clusterIP (and clusterIPs) set, its address reserved in the store. */
export async function assignClusterIP(
  store: Store,
  svc: Service,
  net: ClusterNetwork['spec'],
): Promise<Service> {
  const out = structuredClone(svc);
  if (out.spec.type === 'ExternalName') {
    // An ExternalName service is a DNS alias: it has no address of its own.
    delete out.spec.clusterIP;
    delete out.spec.clusterIPs;
    return out;
  }
  if (out.spec.clusterIP === 'None') {
    out.spec.clusterIPs = ['None'];
    return out;
  }
  const range = parseStored(parseCidr, net.serviceCIDR, CLUSTER_NETWORK, 'spec.serviceCIDR');
  const owner = ownerOf(out);
  const dnsIP = parseStored(parseIP, net.dnsIP, CLUSTER_NETWORK, 'spec.dnsIP');
  const wanted = out.spec.clusterIP
    ? checkRequested(out.spec.clusterIP, range, dnsIP, owner)
    : owner === DNS_SERVICE
      ? dnsIP
      : undefined;
  const ip =
    wanted !== undefined
      ? await reserveRequested(store, wanted, owner)
      : await reserveAny(store, range, dnsIP, owner);
  out.spec.clusterIP = formatIP(ip);
  out.spec.clusterIPs = [out.spec.clusterIP];
  return out;
}

/** Frees the service's address (on delete). Only its own reservation is removed. */
export async function releaseClusterIP(store: Store, svc: Service): Promise<void> {
  const ip = svc.spec.clusterIP ? tryParseIP(svc.spec.clusterIP) : undefined;
  if (ip === undefined) return;
  const kv = await store.get(serviceIPKey(ip));
  if (kv && kv.value === ownerOf(svc)) await store.delete(kv.key, kv.modRevision);
}

function checkRequested(text: string, range: Cidr, dnsIP: IP, owner: string): IP {
  const ip = parseInput(parseIP, text, 'spec.clusterIP');
  const { first, last } = hostRange(range);
  if (!containsIP(range, ip) || compareIP(ip, first) < 0 || compareIP(ip, last) > 0) {
    throw new UsageError(
      `spec.clusterIP ${text}: not a usable address of the service CIDR ${formatCidr(range)}`,
    );
  }
  if (sameIP(ip, dnsIP) && owner !== DNS_SERVICE) {
    throw new UsageError(`spec.clusterIP ${text}: reserved for the cluster DNS (${DNS_SERVICE})`);
  }
  return ip;
}

async function reserveRequested(store: Store, ip: IP, owner: string): Promise<IP> {
  const key = serviceIPKey(ip);
  if ((await store.create(key, owner)) !== undefined) return ip;
  const holder = (await store.get(key))?.value;
  if (holder === owner) return ip;
  throw new UsageError(
    `spec.clusterIP ${formatIP(ip)}: already allocated to service ${holder ?? 'another service'}`,
  );
}

/** A random free address (as Kubernetes does), or the one this service already holds. */
async function reserveAny(store: Store, range: Cidr, dnsIP: IP, owner: string): Promise<IP> {
  const { items } = await store.list(SERVICE_IP_PREFIX);
  const taken = new Set<bigint>();
  for (const kv of items) {
    const ip = ipOfKey(kv.key);
    if (ip === undefined) continue;
    if (kv.value === owner) return ip;
    if (containsIP(range, ip)) taken.add(ip.value);
  }
  const { first } = hostRange(range);
  for (;;) {
    const from = addToIP(first, randomBelow(hostCount(range)));
    const ip = pickFreeAddress(range, taken, { from, reserved: [dnsIP] });
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
