// Whether a fault lost anything in the store: a write the writer was told succeeded that is no
// longer there, or a node's pod subnet lease (a node that came back with another subnet, or a
// lease key gone). Read through the lab's store after the fault's window.
import { type Node } from '../../src/api/types.js';
import { SUBNET_LEASE_PREFIX } from '../../src/ipam/subnet-lease.js';
import { listObjects } from '../../src/store/objects.js';
import type { Store } from '../../src/store/store.js';
import type { StoreWrite } from './store-write-figures.js';

export interface LeaseSnapshot {
  /** node → its pod subnet */
  subnets: Map<string, string>;
  leaseKeys: Set<string>;
}

export async function leaseSnapshot(store: Store): Promise<LeaseSnapshot> {
  const { items } = await listObjects(store, 'Node');
  const leases = await store.list(SUBNET_LEASE_PREFIX);
  return {
    subnets: new Map(items.map((n: Node) => [n.metadata.name, n.spec.podCIDR ?? ''])),
    leaseKeys: new Set(leases.items.map((kv) => kv.key)),
  };
}

/** Nodes whose subnet changed or went, and lease keys that went, from `before` to `after`. */
export function lostLeases(before: LeaseSnapshot, after: LeaseSnapshot): string[] {
  const lost: string[] = [];
  for (const [node, subnet] of before.subnets) {
    const now = after.subnets.get(node);
    if (now !== subnet) lost.push(`${node}: subnet ${subnet} → ${now ?? 'none'}`);
  }
  for (const key of before.leaseKeys) if (!after.leaseKeys.has(key)) lost.push(`lease ${key}`);
  return lost;
}

/**
 * Keys whose stored value is older than the last write to them acknowledged: the writer puts
 * its start time (epoch ms) under `prefix` + (number mod 100).
 */
export function lostWrites(
  writes: readonly StoreWrite[],
  stored: ReadonlyMap<string, string>,
  prefix: string,
): string[] {
  const acknowledged = new Map<string, number>();
  for (const w of writes) {
    const key = `${prefix}${w.seq % 100}`;
    if (w.ok) acknowledged.set(key, Math.max(acknowledged.get(key) ?? 0, w.start));
  }
  return [...acknowledged]
    .filter(([key, start]) => Number(stored.get(key) ?? 0) < start)
    .map(([key]) => key);
}
