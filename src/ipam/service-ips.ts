// Service cluster IPs from the service CIDR. Each address in use has a reservation key,
// created only if absent, so two concurrent applies can never get the same IP; the key
// names its service, so applying the same service again keeps its address. The DNS IP is
// reserved for kube-system/kube-dns.
import type { ClusterNetwork, Service } from '../api/types.js';
import type { Store } from '../store/store.js';
import { OperationError, UsageError } from '../util/errors.js';
import {
  containsIP,
  formatCidr,
  formatIPv4,
  hostRange,
  parseCidr,
  parseIPv4,
  pickFreeAddress,
  tryParseIPv4,
  type Cidr,
} from './cidr.js';

export const SERVICE_IP_PREFIX = '/podnet/reservations/serviceips/';
/** The Service that the ClusterNetwork's dnsIP belongs to. */
const DNS_SERVICE = 'kube-system/kube-dns';

export function serviceIPKey(ip: number): string {
  return SERVICE_IP_PREFIX + formatIPv4(ip).replace(/\./g, '-');
}

function ipOfKey(key: string): number | undefined {
  return tryParseIPv4(key.slice(SERVICE_IP_PREFIX.length).replace(/-/g, '.'));
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
  const range = parseCidr(net.serviceCIDR, 'serviceCIDR');
  const owner = ownerOf(out);
  const dnsIP = parseIPv4(net.dnsIP, 'dnsIP');
  const wanted = out.spec.clusterIP
    ? checkRequested(out.spec.clusterIP, range, dnsIP, owner)
    : owner === DNS_SERVICE
      ? dnsIP
      : undefined;
  const ip =
    wanted !== undefined
      ? await reserveRequested(store, wanted, owner)
      : await reserveAny(store, range, dnsIP, owner);
  out.spec.clusterIP = formatIPv4(ip);
  out.spec.clusterIPs = [out.spec.clusterIP];
  return out;
}

/** Frees the service's address (on delete). Only its own reservation is removed. */
export async function releaseClusterIP(store: Store, svc: Service): Promise<void> {
  const ip = svc.spec.clusterIP ? tryParseIPv4(svc.spec.clusterIP) : undefined;
  if (ip === undefined) return;
  const kv = await store.get(serviceIPKey(ip));
  if (kv && kv.value === ownerOf(svc)) await store.delete(kv.key, kv.modRevision);
}

function checkRequested(text: string, range: Cidr, dnsIP: number, owner: string): number {
  const ip = parseIPv4(text, 'spec.clusterIP');
  const { first, last } = hostRange(range);
  if (!containsIP(range, ip) || ip < first || ip > last) {
    throw new UsageError(
      `spec.clusterIP ${text}: not a usable address of the service CIDR ${formatCidr(range)}`,
    );
  }
  if (ip === dnsIP && owner !== DNS_SERVICE) {
    throw new UsageError(`spec.clusterIP ${text}: reserved for the cluster DNS (${DNS_SERVICE})`);
  }
  return ip;
}

async function reserveRequested(store: Store, ip: number, owner: string): Promise<number> {
  const key = serviceIPKey(ip);
  if ((await store.create(key, owner)) !== undefined) return ip;
  const holder = (await store.get(key))?.value;
  if (holder === owner) return ip;
  throw new UsageError(
    `spec.clusterIP ${formatIPv4(ip)}: already allocated to service ${holder ?? 'another service'}`,
  );
}

/** A random free address (as Kubernetes does), or the one this service already holds. */
async function reserveAny(
  store: Store,
  range: Cidr,
  dnsIP: number,
  owner: string,
): Promise<number> {
  const { items } = await store.list(SERVICE_IP_PREFIX);
  const taken = new Set<number>();
  for (const kv of items) {
    const ip = ipOfKey(kv.key);
    if (ip === undefined) continue;
    if (kv.value === owner) return ip;
    taken.add(ip);
  }
  const { first, last } = hostRange(range);
  for (;;) {
    const from = first + Math.floor(Math.random() * (last - first + 1));
    const ip = pickFreeAddress(range, taken, { from, reserved: [dnsIP] });
    if (ip === undefined) {
      throw new OperationError(
        `service CIDR ${formatCidr(range)} has no free address left (${taken.size} in use)`,
      );
    }
    if ((await store.create(serviceIPKey(ip), owner)) !== undefined) return ip;
    taken.add(ip); // another apply took it first
  }
}
