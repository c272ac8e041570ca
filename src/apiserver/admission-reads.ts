// What a write is admitted against — the cluster's network settings, the namespace a new object
// goes into, the object a patch starts from — read from the API server's watch caches instead
// of the store, each with the revision it was read at. The write names those revisions, and the
// store makes it only if the keys are still there (checked in the write's own transaction), so
// a cache behind the store never admits what the store's state would refuse: a write refused
// that way reads the store and is admitted again.
import { DEFAULT_CLUSTER_NETWORK, type ClusterNetwork, type Namespace } from '../api/types.js';
import { decodeObject, objectKey } from '../store/objects.js';
import type { KeyRevision, KeyValue, Store } from '../store/store.js';
import { resourceOfKind, type Resource } from './resources.js';
import type { WatchCaches } from './watch-cache.js';

/** Where admission reads: the watch caches (the first try), or the store (after a stale read). */
export type ReadSource = 'cache' | 'store';

export interface AdmissionReads {
  network: ClusterNetwork['spec'];
  /** The namespace a create goes into, when there is one and it exists. */
  home: Namespace | undefined;
  /** The keys read and their revisions, for the write's `unchanged`. */
  unchanged: KeyRevision[];
}

export interface ReadContext {
  store: Store;
  caches: WatchCaches;
}

const NETWORK_KEY = objectKey('ClusterNetwork', undefined, 'default');

/**
 * The ClusterNetwork and (for a create of a namespaced object) its namespace. A namespace the
 * cache does not have is asked of the store, since the create is then likely refused (or makes
 * a system namespace), and such a refusal must be the store's word. A namespace read as absent
 * is not pinned: the create refuses it, or creates it when it is a system one.
 */
export async function admissionReads(
  ctx: ReadContext,
  namespace: string | undefined,
  source: ReadSource,
): Promise<AdmissionReads> {
  const namespaceKey =
    namespace === undefined ? undefined : objectKey('Namespace', undefined, namespace);
  const [network, home] = await Promise.all([
    read(ctx, 'ClusterNetwork', NETWORK_KEY, source),
    namespaceKey === undefined
      ? undefined
      : read(ctx, 'Namespace', namespaceKey, source, { absentFromStore: true }),
  ]);
  const unchanged: KeyRevision[] = [{ key: NETWORK_KEY, modRevision: network?.modRevision ?? 0 }];
  if (home) unchanged.push({ key: namespaceKey!, modRevision: home.modRevision });
  const spec = network && decodeObject<'ClusterNetwork'>(network).spec;
  return {
    network: { ...DEFAULT_CLUSTER_NETWORK, ...spec },
    home: home && decodeObject<'Namespace'>(home),
    unchanged,
  };
}

/**
 * The object a patch starts from. Only an object the cache holds is taken from it: that one is
 * absent is the store's to say.
 */
export async function currentObject(
  ctx: ReadContext,
  resource: Resource,
  key: string,
  source: ReadSource,
): Promise<KeyValue | undefined> {
  const listed = source === 'cache' ? ctx.caches.of(resource).peek(key) : undefined;
  return listed ? listed.kv : ctx.store.get(key);
}

/** One key from its kind's cache when `source` allows and the cache can say; else the store. */
async function read(
  ctx: ReadContext,
  kind: 'ClusterNetwork' | 'Namespace',
  key: string,
  source: ReadSource,
  { absentFromStore = false } = {},
): Promise<KeyValue | undefined> {
  if (source === 'cache') {
    const listed = ctx.caches.of(resourceOfKind(kind)!).peek(key);
    if (listed) return listed.kv;
    if (listed === null && !absentFromStore) return undefined;
  }
  return ctx.store.get(key);
}
