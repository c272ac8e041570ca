// A local, always-current copy of one kind of object: list, then watch from the list's
// revision + 1; when the watch breaks (history compacted, store away) list again and report
// the difference as changes. Agents, DNS and the lab's pod runner all read the cluster this way.
import type { Kind } from '../api/types.js';
import { errorMessage } from '../util/errors.js';
import { decodeObject, kindPrefix, listObjects, type ObjectOf } from './objects.js';
import type { Store, Watch, WatchEvent } from './store.js';

export interface Change<T> {
  type: 'added' | 'modified' | 'deleted';
  /** `namespace/name` for namespaced kinds, `name` otherwise: the cache key. */
  name: string;
  object: T;
  /** The object before a modification or deletion. */
  old?: T;
  /** Store revision of the change (of the list, for changes a re-list found). */
  revision: number;
}

export interface InformerOptions<T> {
  /** Only this namespace (namespaced kinds). */
  namespace?: string;
  /**
   * What the cache keeps of each object, in place of the whole object (client-go's transform):
   * a process that reads a few fields of a kind it holds thousands of keeps only those.
   */
  transform?: (object: T) => T;
  /** Called after the cache has taken each change. */
  onChange?: (change: Change<T>) => void;
  /**
   * Called once the cache holds everything up to `revision`: after each list and after each
   * batch of watch events, when every change of it has gone to `onChange`.
   */
  onRevision?: (revision: number) => void;
  /** Called when listing or watching failed; the informer retries on its own. */
  onError?: (message: string) => void;
  /** Wait before listing again after a failure. */
  retryMs?: number;
}

export interface Informer<T> {
  /** Current objects by `namespace/name` (or `name`). */
  readonly cache: ReadonlyMap<string, T>;
  /** Resolves once the first list is in the cache. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

export function startInformer<K extends Kind>(
  store: Store,
  kind: K,
  opts: InformerOptions<ObjectOf<K>> = {},
): Informer<ObjectOf<K>> {
  type T = ObjectOf<K>;
  const prefix = kindPrefix(kind, opts.namespace);
  const strip = kindPrefix(kind).length;
  const cache = new Map<string, T>();
  let watch: Watch | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  let markSynced!: () => void;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  const emit = (change: Change<T>): void => opts.onChange?.(change);
  const keep = opts.transform ?? ((object: T) => object);

  const apply = (events: WatchEvent[]): void => {
    for (const ev of events) {
      if (stopped) return;
      const revision = ev.type === 'put' ? ev.kv.modRevision : ev.modRevision;
      if (ev.type === 'put') {
        const name = ev.kv.key.slice(strip);
        let object: T;
        try {
          object = keep(decodeObject<K>(ev.kv));
        } catch (err) {
          // Something that is not an object was written under our prefix: skip it, say so.
          opts.onError?.(errorMessage(err));
          continue;
        }
        const old = cache.get(name);
        cache.set(name, object);
        emit({ type: old ? 'modified' : 'added', name, object, old, revision });
      } else {
        const name = ev.key.slice(strip);
        const old = cache.get(name);
        if (!old) continue;
        cache.delete(name);
        emit({ type: 'deleted', name, object: old, old, revision });
      }
    }
    const last = events.at(-1);
    if (last && !stopped) {
      opts.onRevision?.(last.type === 'put' ? last.kv.modRevision : last.modRevision);
    }
  };

  const later = (err: unknown, delayMs: number): void => {
    opts.onError?.(errorMessage(err));
    if (!stopped) retry = setTimeout(() => void relist(), delayMs);
  };

  const relist = async (): Promise<void> => {
    retry = undefined;
    try {
      const { items, revision } = await listObjects(store, kind, opts.namespace);
      if (stopped) return;
      // Whatever happened while we were not watching arrives as the difference to the cache.
      const fresh = new Map(items.map((o) => [keyName(o), keep(o)]));
      for (const [name, old] of [...cache]) {
        if (!fresh.has(name)) {
          cache.delete(name);
          emit({ type: 'deleted', name, object: old, old, revision });
        }
      }
      for (const [name, object] of fresh) {
        const old = cache.get(name);
        if (old?.metadata.resourceVersion === object.metadata.resourceVersion) continue;
        cache.set(name, object);
        emit({ type: old ? 'modified' : 'added', name, object, old, revision });
      }
      opts.onRevision?.(revision);
      markSynced();
      watch = store.watch(prefix, revision + 1, {
        onEvents: apply,
        onError: (err) => {
          watch = undefined;
          later(err, err.reason === 'compacted' ? 0 : (opts.retryMs ?? 1000));
        },
      });
    } catch (err) {
      later(err, opts.retryMs ?? 1000);
    }
  };

  void relist();
  return {
    cache,
    synced,
    stop: async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      await watch?.cancel();
    },
  };
}

/** The cache key of an object: `namespace/name` or `name`. */
export function keyName(obj: { metadata: { name: string; namespace?: string } }): string {
  return obj.metadata.namespace
    ? `${obj.metadata.namespace}/${obj.metadata.name}`
    : obj.metadata.name;
}
