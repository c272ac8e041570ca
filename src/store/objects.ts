// Typed objects on top of the key-value store. Objects live at `/podnet/<plural>/<ns>/<name>`
// (cluster-scoped: `/podnet/<plural>/<name>`) as JSON; `metadata.resourceVersion` is the key's
// modRevision, filled in on read and never stored.
import { randomUUID } from 'node:crypto';
import { cloneJson } from '../api/clone.js';
import { DEFAULT_NAMESPACE, kindInfo } from '../api/kinds.js';
import { mergeForApply } from '../api/merge.js';
import {
  DEFAULT_CLUSTER_NETWORK,
  type ClusterNetwork,
  type Kind,
  type KubeObject,
} from '../api/types.js';
import { OperationError } from '../util/errors.js';
import type { KeyValue, Store, SwapOptions, SwapResult } from './store.js';

export type ObjectOf<K extends Kind> = Extract<KubeObject, { kind: K }>;

export const KEY_ROOT = '/podnet/';

export function objectKey(kind: Kind, namespace: string | undefined, name: string): string {
  const info = kindInfo(kind);
  const segment = info.storeSegment ?? info.plural;
  if (!info.namespaced) return `${KEY_ROOT}${segment}/${name}`;
  return `${KEY_ROOT}${segment}/${namespace ?? DEFAULT_NAMESPACE}/${name}`;
}

/** The key prefix of all objects of a kind, or of one namespace's objects of a namespaced kind. */
export function kindPrefix(kind: Kind, namespace?: string): string {
  const info = kindInfo(kind);
  const base = `${KEY_ROOT}${info.storeSegment ?? info.plural}/`;
  return info.namespaced && namespace !== undefined ? `${base}${namespace}/` : base;
}

export function keyOf(obj: KubeObject): string {
  return objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
}

/** The object stored in a key-value pair, with its resourceVersion. */
export function decodeObject<K extends Kind = Kind>(kv: KeyValue): ObjectOf<K> {
  let obj: ObjectOf<K> | undefined;
  try {
    obj = JSON.parse(kv.value) as ObjectOf<K>;
  } catch {
    obj = undefined;
  }
  if (typeof obj?.metadata !== 'object' || obj.metadata === null) {
    throw new OperationError(
      `store: ${kv.key} does not hold an object (written by something else?)`,
    );
  }
  obj.metadata.resourceVersion = String(kv.modRevision);
  return obj;
}

function encodeObject(obj: KubeObject): string {
  const metadata = { ...obj.metadata };
  delete metadata.resourceVersion;
  return JSON.stringify({ ...obj, metadata });
}

export async function getObject<K extends Kind>(
  store: Store,
  kind: K,
  namespace: string | undefined,
  name: string,
): Promise<ObjectOf<K> | undefined> {
  const kv = await store.get(objectKey(kind, namespace, name));
  return kv && decodeObject<K>(kv);
}

/** Objects of a kind (one namespace, or all), and the revision to watch from (+1). */
export async function listObjects<K extends Kind>(
  store: Store,
  kind: K,
  namespace?: string,
): Promise<{ items: ObjectOf<K>[]; revision: number }> {
  const r = await store.list(kindPrefix(kind, namespace));
  return { items: r.items.map((kv) => decodeObject<K>(kv)), revision: r.revision };
}

function stamped<T extends KubeObject>(obj: T): T {
  const out = cloneJson(obj);
  out.metadata.uid ??= randomUUID();
  out.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return out;
}

/**
 * A write refused because a key it was decided from (`SwapOptions.unchanged`) has changed since
 * it was read: read again and decide again.
 */
export class StaleReadError extends Error {
  constructor(key: string) {
    super(`store: ${key}: written from a read that is no longer current`);
    this.name = 'StaleReadError';
  }
}

/** The revision a compare-and-swap wrote, undefined when the key was not as expected. */
function swapped(key: string, r: SwapResult): number | undefined {
  if (r.ok) return r.revision;
  if (r.staleRead) throw new StaleReadError(key);
  return undefined;
}

/**
 * Creates the object if absent; returns it as stored, or undefined when it already exists.
 * Throws StaleReadError when one of `opts.unchanged` has moved.
 */
export async function createObject<T extends KubeObject>(
  store: Store,
  obj: T,
  opts?: SwapOptions,
): Promise<T | undefined> {
  const out = stamped(obj);
  const key = keyOf(out);
  const rev = swapped(key, await store.compareAndSwap(key, encodeObject(out), 0, opts));
  if (rev === undefined) return undefined;
  out.metadata.resourceVersion = String(rev);
  return out;
}

/** After a compare-and-swap conflict: a random, growing pause, so that writers stop colliding. */
function conflictBackoff(attempt: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.random() * Math.min(2 ** attempt, 64)));
}

export type ApplyAction = 'created' | 'configured' | 'unchanged';

/** Writes only what differs; `resourceVersion` is ignored in the comparison. */
function sameContent(a: KubeObject, b: KubeObject): boolean {
  return encodeObject(a) === encodeObject(b);
}

/**
 * Creates the object or updates it in place, keeping what `mergeForApply` keeps (uid, status,
 * allocations). Retries on concurrent writers (compare-and-swap on the revision).
 */
export async function applyObject<T extends KubeObject>(
  store: Store,
  obj: T,
): Promise<{ object: T; action: ApplyAction }> {
  const key = keyOf(obj);
  for (let attempt = 0; attempt < 100; attempt++) {
    const kv = await store.get(key);
    if (!kv) {
      const created = await createObject(store, obj);
      if (created) return { object: created, action: 'created' };
      continue;
    }
    const existing = decodeObject(kv) as T;
    const merged = stamped(mergeForApply(existing, obj));
    if (sameContent(merged, existing)) return { object: existing, action: 'unchanged' };
    const rev = await store.update(key, encodeObject(merged), kv.modRevision);
    if (rev !== undefined) {
      merged.metadata.resourceVersion = String(rev);
      return { object: merged, action: 'configured' };
    }
    await conflictBackoff(attempt);
  }
  throw new OperationError(`store: ${key} kept changing under apply; try again`);
}

export async function deleteObject(
  store: Store,
  kind: Kind,
  namespace: string | undefined,
  name: string,
): Promise<boolean> {
  return store.delete(objectKey(kind, namespace, name));
}

/**
 * Writes the object over the version it was read at (its `resourceVersion`, or
 * `expectedRevision` when the caller read it elsewhere) — the Kubernetes API's update, and a
 * controller's write of what it decided from its cache. Returns it as stored, or undefined when
 * someone changed or deleted it since: the caller reads again and decides again.
 */
export async function replaceObject<T extends KubeObject>(
  store: Store,
  obj: T,
  expectedRevision = Number(obj.metadata.resourceVersion),
  opts?: SwapOptions,
): Promise<T | undefined> {
  const expected = expectedRevision;
  if (!Number.isInteger(expected) || expected <= 0) {
    throw new OperationError(`store: ${keyOf(obj)}: no resourceVersion to replace at`);
  }
  const out = cloneJson(obj);
  const key = keyOf(out);
  const rev = swapped(key, await store.compareAndSwap(key, encodeObject(out), expected, opts));
  if (rev === undefined) return undefined;
  out.metadata.resourceVersion = String(rev);
  return out;
}

/** Deletes the object only if it is still the version that was read; true if it went. */
export async function deleteObjectAt(store: Store, obj: KubeObject): Promise<boolean> {
  return store.delete(keyOf(obj), Number(obj.metadata.resourceVersion));
}

/**
 * Reads, changes and writes one object with compare-and-swap, retrying when someone else wrote
 * in between (agents write status and annotations of the same objects concurrently).
 * `mutate` gets a private copy; returning undefined means "no change". Returns the object as
 * stored afterwards, or undefined when it does not exist.
 */
export async function updateObject<K extends Kind>(
  store: Store,
  kind: K,
  namespace: string | undefined,
  name: string,
  mutate: (obj: ObjectOf<K>) => ObjectOf<K> | undefined,
): Promise<ObjectOf<K> | undefined> {
  const key = objectKey(kind, namespace, name);
  let kv = await store.get(key);
  for (let attempt = 0; attempt < 200; attempt++) {
    if (!kv) return undefined;
    const current = decodeObject<K>(kv);
    const next = mutate(cloneJson(current));
    if (next === undefined || sameContent(next, current)) return current;
    const r = await store.compareAndSwap(key, encodeObject(next), kv.modRevision);
    if (r.ok) {
      next.metadata.resourceVersion = String(r.revision);
      return next;
    }
    kv = r.current;
    if (attempt > 0) await conflictBackoff(attempt);
  }
  throw new OperationError(`store: ${key} kept changing under update; try again`);
}

/** The cluster's network settings: the `default` ClusterNetwork over the built-in defaults. */
export async function getClusterNetwork(store: Store): Promise<ClusterNetwork['spec']> {
  const cn = await getObject(store, 'ClusterNetwork', undefined, 'default');
  return { ...DEFAULT_CLUSTER_NETWORK, ...cn?.spec };
}
