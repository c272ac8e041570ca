// The repair pass, as Kubernetes' repair controllers do it: reservations (service cluster IPs,
// node ports) that no object holds are freed, deletions whose finisher is gone are finished.
// Leaks come from processes killed between a reservation and the write of its Service, and
// from stores written by older versions; without repair such an address stays taken forever.
import type { Service } from '../api/types.js';
import { NODE_PORT_PREFIX } from '../ipam/node-ports.js';
import { SERVICE_IP_PREFIX } from '../ipam/service-ips.js';
import { getObject, listObjects } from '../store/objects.js';
import type { KeyValue, Store } from '../store/store.js';
import { deleteObject } from './delete.js';
import { isTerminating } from './namespaces.js';

export interface RepairReport {
  /** Reservation keys freed, each with the service it named. */
  freed: { key: string; heldFor: string }[];
  /** Terminating Pods removed because their node no longer exists. */
  podsRemoved: string[];
  /** Terminating Namespaces removed because nothing is left in them. */
  namespacesRemoved: string[];
}

export interface RepairOptions {
  /**
   * How long a reservation must stay unheld before it is freed. An apply reserves first and
   * writes its Service a moment later; a reservation seen before that moment must not be taken
   * from it. Reservations are read, then Services after this pause.
   */
  settleMs?: number;
}

export async function repair(store: Store, opts: RepairOptions = {}): Promise<RepairReport> {
  const reservations = [
    ...(await store.list(SERVICE_IP_PREFIX)).items,
    ...(await store.list(NODE_PORT_PREFIX)).items,
  ];
  await new Promise((r) => setTimeout(r, opts.settleMs ?? 2000));
  const services = new Map<string, Service>();
  for (const svc of (await listObjects(store, 'Service')).items) services.set(ownerOf(svc), svc);

  const freed: RepairReport['freed'] = [];
  for (const kv of reservations) {
    const r = reservationOf(kv);
    if (r && holds(services.get(r.owner), r)) continue;
    // Only as read: a reservation taken again meanwhile belongs to someone.
    if (await store.delete(kv.key, kv.modRevision)) {
      freed.push({ key: kv.key, heldFor: r?.owner ?? kv.value });
    }
  }
  return {
    freed,
    podsRemoved: await removeOrphanedPods(store),
    namespacesRemoved: await finishNamespaces(store),
  };
}

type Reservation =
  | { kind: 'clusterIP'; owner: string; ip: string }
  | { kind: 'nodePort'; owner: string; port: number };

/** What a reservation key says; undefined for a key no allocator would have written. */
export function reservationOf(kv: KeyValue): Reservation | undefined {
  if (kv.key.startsWith(SERVICE_IP_PREFIX)) {
    const ip = kv.key.slice(SERVICE_IP_PREFIX.length).replace(/-/g, '.');
    return { kind: 'clusterIP', owner: kv.value, ip };
  }
  const port = Number(kv.key.slice(NODE_PORT_PREFIX.length));
  try {
    const owner = (JSON.parse(kv.value) as { service?: unknown }).service;
    if (typeof owner === 'string' && Number.isInteger(port))
      return { kind: 'nodePort', owner, port };
  } catch {
    // Not JSON: no allocator wrote it, nothing holds it.
  }
  return undefined;
}

/** Whether the service (as stored) uses the reserved address or port. */
export function holds(svc: Service | undefined, r: Reservation): boolean {
  if (!svc) return false;
  if (r.kind === 'clusterIP') return (svc.spec.clusterIPs ?? [svc.spec.clusterIP]).includes(r.ip);
  return svc.spec.type === 'NodePort' && (svc.spec.ports ?? []).some((p) => p.nodePort === r.port);
}

const ownerOf = (svc: Service): string =>
  `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;

/** Terminating pods whose node was deleted: no pod runner will ever finish them. */
async function removeOrphanedPods(store: Store): Promise<string[]> {
  const removed: string[] = [];
  for (const pod of (await listObjects(store, 'Pod')).items) {
    if (!pod.metadata.deletionTimestamp) continue;
    const node = pod.spec.nodeName;
    if (node && (await getObject(store, 'Node', undefined, node))) continue;
    const ns = pod.metadata.namespace ?? 'default';
    const outcome = await deleteObject(store, 'Pod', ns, pod.metadata.name, {
      force: true,
      gracePeriodSeconds: 0,
    });
    if (outcome === 'deleted') removed.push(`${ns}/${pod.metadata.name}`);
  }
  return removed;
}

/**
 * Terminating namespaces whose deletion was interrupted: the rest of their contents deleted,
 * and the namespace removed if that emptied it.
 */
async function finishNamespaces(store: Store): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of (await listObjects(store, 'Namespace')).items) {
    if (!isTerminating(ns)) continue;
    const outcome = await deleteObject(store, 'Namespace', undefined, ns.metadata.name);
    if (outcome === 'deleted') removed.push(ns.metadata.name);
  }
  return removed;
}
