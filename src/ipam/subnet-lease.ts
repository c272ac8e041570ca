// Node subnet leases with flannel's semantics: the cluster CIDR is split into per-node
// subnets; a node takes one by creating its lease key only if absent, bound to a store lease
// with a TTL that it renews well before expiry; a restarted node first takes back the lease
// that names it; a lease whose node stopped renewing expires and its subnet becomes free.
// Keys without a store lease are reservations: never expire, never handed out.
import type { KeyValue, Store } from '../store/store.js';
import { OperationError } from '../util/errors.js';
import {
  containsCidr,
  formatCidr,
  overlaps,
  parseCidr,
  subnetCount,
  tryParseCidr,
  type Cidr,
  parseStored,
} from '../net/index.js';
import { clusterCIDRsOf, nodeSubnetPrefixOf } from '../api/cluster-families.js';
import type { ClusterNetwork } from '../api/types.js';
import { pickFreeSubnet } from './pick-free.js';

export const SUBNET_LEASE_PREFIX = '/podnet/leases/subnets/';
/** flannel's lease TTL: a day, so a node may be down for hours and keep its subnet. */
export const DEFAULT_LEASE_TTL_SECONDS = 24 * 3600;

/** The value stored under a lease key (flannel keeps publicIP, backendType, backendData). */
export interface SubnetLeaseRecord {
  subnet: string;
  node: string;
  publicIP: string;
}

export interface SubnetLease extends SubnetLeaseRecord {
  key: string;
  /** The store lease the key is bound to. */
  lease: string;
}

/**
 * `10.244.1.0/24` → `/podnet/leases/subnets/10-244-1-0-24` (flannel's key shape); an IPv6
 * subnet keeps its colons: `fd00:10:244:1::/64` → `.../fd00:10:244:1::-64`.
 */
export function subnetLeaseKey(subnet: Cidr): string {
  return SUBNET_LEASE_PREFIX + formatCidr(subnet).replace(/[./]/g, '-');
}

/** The subnet a lease key names, or undefined for a key of another shape. */
export function subnetOfLeaseKey(key: string): Cidr | undefined {
  const text = key.slice(SUBNET_LEASE_PREFIX.length);
  const v6 = /^([0-9a-f:]+)-(\d+)$/.exec(text);
  if (v6) return tryParseCidr(`${v6[1]}/${v6[2]}`);
  const m = /^(\d+)-(\d+)-(\d+)-(\d+)-(\d+)$/.exec(text);
  return m ? tryParseCidr(`${m[1]}.${m[2]}.${m[3]}.${m[4]}/${m[5]}`) : undefined;
}

/** Seconds after a renewal to renew again: an hour before expiry, or halfway for short TTLs. */
export function renewAfterSeconds(ttlSeconds: number): number {
  return ttlSeconds > 2 * 3600 ? ttlSeconds - 3600 : ttlSeconds / 2;
}

export type LeasePlan =
  | { action: 'reuse'; existing: KeyValue }
  | { action: 'create'; subnet: Cidr }
  | { action: 'full'; message: string };

/**
 * What a joining node should do, given every lease key: take back its own lease (matched by
 * node name, as flannel matches its publicIP), or create `preferred` (the subnet it last
 * had, whose pods may still hold addresses from it) if free, or the lowest free subnet, or fail.
 */
export function planSubnetLease(
  leases: KeyValue[],
  self: { node: string; publicIP: string },
  clusterCIDR: Cidr,
  prefix: number,
  preferred?: Cidr,
): LeasePlan {
  const taken: Cidr[] = [];
  for (const kv of leases) {
    const subnet = subnetOfLeaseKey(kv.key);
    if (!subnet) continue;
    const record = parseRecord(kv.value);
    const fits = subnet.prefix === prefix && containsCidr(clusterCIDR, subnet);
    if (record?.node === self.node && fits && kv.lease) return { action: 'reuse', existing: kv };
    taken.push(subnet);
  }
  const usable = (c: Cidr): boolean =>
    c.prefix === prefix && containsCidr(clusterCIDR, c) && !taken.some((t) => overlaps(t, c));
  if (preferred && usable(preferred)) return { action: 'create', subnet: preferred };
  const subnet = pickFreeSubnet(clusterCIDR, prefix, taken);
  if (subnet) return { action: 'create', subnet };
  const fits = subnetCount(clusterCIDR, prefix);
  return {
    action: 'full',
    message:
      `cluster CIDR ${formatCidr(clusterCIDR)} has no free /${prefix} node subnet: it fits ` +
      `${fits} nodes and all are leased (use a larger clusterCIDR or ${clusterCIDR.family === 4 ? 'nodeSubnetPrefix' : 'nodeSubnetPrefixIPv6'})`,
  };
}

function parseRecord(value: string): SubnetLeaseRecord | undefined {
  try {
    return JSON.parse(value) as SubnetLeaseRecord;
  } catch {
    return undefined;
  }
}

/**
 * Takes this node's subnet lease: its old one if it still holds one, else a free subnet.
 * Concurrent joiners race on create-if-absent; the loser re-lists and tries the next.
 */
export async function acquireSubnetLease(
  store: Store,
  self: { node: string; publicIP: string },
  clusterCIDR: string,
  prefix: number,
  opts: { ttlSeconds?: number; preferred?: Cidr } = {},
): Promise<SubnetLease> {
  const ttlSeconds = opts.ttlSeconds ?? DEFAULT_LEASE_TTL_SECONDS;
  const cluster = parseStored(parseCidr, clusterCIDR, 'ClusterNetwork', 'spec.clusterCIDR');
  for (let attempt = 0; attempt < 1000; attempt++) {
    const { items } = await store.list(SUBNET_LEASE_PREFIX);
    const plan = planSubnetLease(items, self, cluster, prefix, opts.preferred);
    if (plan.action === 'full') throw new OperationError(plan.message);
    const subnet = plan.action === 'reuse' ? subnetOfLeaseKey(plan.existing.key)! : plan.subnet;
    const record: SubnetLeaseRecord = { subnet: formatCidr(subnet), ...self };
    const key = subnetLeaseKey(subnet);
    const lease = await store.grantLease(ttlSeconds);
    // Reuse rebinds the key to a fresh store lease (the old one's id died with the process).
    const written =
      plan.action === 'reuse'
        ? await store.update(key, JSON.stringify(record), plan.existing.modRevision, { lease })
        : await store.create(key, JSON.stringify(record), { lease });
    if (written !== undefined) {
      if (plan.action === 'reuse') await revokeQuietly(store, plan.existing.lease!);
      return { ...record, key, lease };
    }
    await revokeQuietly(store, lease);
  }
  throw new OperationError(`could not lease a node subnet of ${clusterCIDR}: too much contention`);
}

/**
 * One subnet lease per family of the cluster, in the order of its clusterCIDRs (IPv4, the
 * primary, first). `preferred` may hold a subnet per family; each family is leased as
 * acquireSubnetLease leases one, so taking them again after a restart is idempotent.
 */
export async function acquireNodeSubnets(
  store: Store,
  self: { node: string; publicIP: string },
  net: ClusterNetwork['spec'],
  opts: { ttlSeconds?: number; preferred?: readonly Cidr[] } = {},
): Promise<SubnetLease[]> {
  const leases: SubnetLease[] = [];
  for (const text of clusterCIDRsOf(net)) {
    const cluster = parseStored(parseCidr, text, 'ClusterNetwork', 'spec.clusterCIDRs');
    const preferred = opts.preferred?.find((c) => c.family === cluster.family);
    const prefix = nodeSubnetPrefixOf(net, cluster.family);
    leases.push(
      await acquireSubnetLease(store, self, text, prefix, {
        ttlSeconds: opts.ttlSeconds,
        preferred,
      }),
    );
  }
  return leases;
}

/** Renews the store lease; the key lives as long as the lease does. */
export async function renewSubnetLease(store: Store, lease: SubnetLease): Promise<void> {
  await store.keepAlive(lease.lease);
}

/** Frees every subnet leased to `node` (on `podnet delete node`). Returns the freed subnets. */
export async function releaseNodeSubnets(store: Store, node: string): Promise<string[]> {
  const { items } = await store.list(SUBNET_LEASE_PREFIX);
  const freed: string[] = [];
  for (const kv of items) {
    const record = parseRecord(kv.value);
    if (record?.node !== node) continue;
    if (await store.delete(kv.key, kv.modRevision)) freed.push(record.subnet);
    if (kv.lease) await revokeQuietly(store, kv.lease);
  }
  return freed;
}

async function revokeQuietly(store: Store, lease: string): Promise<void> {
  try {
    await store.revokeLease(lease);
  } catch {
    // Already expired or revoked: either way it holds no key of ours.
  }
}
