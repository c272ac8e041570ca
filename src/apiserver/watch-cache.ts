// Lists served from memory, as kube-apiserver's watch cache does: per kind, one list of the
// store primes a cache that the store's watch keeps current, holding each object as listed
// (its stored bytes, its JSON once rendered, its revision). A read that wants the most recent
// state is served only once the cache has caught up with the store's current revision, read
// just before: so nothing a write replaced before the read began can be served, and a client
// always reads its own writes. A cache that cannot catch up in time, or is still priming or
// re-priming after its watch broke, leaves the read to the store.
import type { Kind } from '../api/types.js';
import { getObject, kindPrefix, objectKey, type ObjectOf } from '../store/objects.js';
import type { Store, Watch, WatchEvent } from '../store/store.js';
import { Listed, positionOfKey, type ListRead } from './list.js';
import { resourceOfKind, type Resource } from './resources.js';

/** How long a most-recent read waits for the cache to catch up before asking the store. */
const CATCH_UP_MS = 1000;
/** Pause before a cache whose watch broke lists again. */
const REPRIME_MS = 1000;

interface Waiter {
  revision: number;
  done: (caughtUp: boolean) => void;
}

export class ResourceCache {
  private readonly objects = new Map<string, Listed>();
  /** The keys in order, kept so as keys come and go; undefined until a read first sorts them. */
  private sorted: string[] | undefined;
  /** Every change up to this revision is in the cache (0: not primed). */
  private revision = 0;
  private watch: Watch | undefined;
  private waiters: Waiter[] = [];
  private stopped = false;
  /** Which priming the cache holds: counted up each time it is forgotten. */
  private generation = 0;
  private readonly prefix: string;
  private readonly positionOf: (key: string) => string;

  constructor(
    private readonly store: Store,
    private readonly resource: Resource,
    private readonly catchUpMs = CATCH_UP_MS,
  ) {
    this.prefix = kindPrefix(resource.kind);
    this.positionOf = positionOfKey(resource);
  }

  /** Lists and starts watching; reads go to the store until this has finished. */
  async prime(): Promise<void> {
    let listed;
    try {
      listed = await this.store.list(this.prefix);
    } catch {
      this.reprimeLater();
      return;
    }
    if (this.stopped) return;
    this.forget();
    // Only this watch may change the cache: a stale one's late calls are ignored.
    const generation = this.generation;
    const current = () => generation === this.generation;
    for (const kv of listed.items)
      this.objects.set(kv.key, new Listed(this.positionOf(kv.key), kv));
    this.watch = this.store.watch(this.prefix, listed.revision + 1, {
      onEvents: (events) => {
        if (current()) this.apply(events);
      },
      onProgress: (revision) => {
        if (current()) this.advance(revision);
      },
      onError: () => {
        if (!current()) return;
        this.forget();
        this.reprimeLater();
      },
    });
    this.advance(listed.revision);
  }

  /**
   * The objects under `namespace` (all: undefined) as of the store's current revision, or
   * undefined when the cache cannot show that state in time.
   */
  async mostRecent(namespace: string | undefined): Promise<ListRead | undefined> {
    if (this.revision === 0) return undefined;
    const current = await this.store.revision();
    if (this.revision < current) {
      this.watch?.requestProgress?.();
      if (!(await this.caughtUp(current))) return undefined;
    }
    return this.read(namespace);
  }

  /** The objects under `namespace` as the cache has them now (`resourceVersion=0`). */
  anyRecent(namespace: string | undefined): ListRead | undefined {
    return this.revision === 0 ? undefined : this.read(namespace);
  }

  /**
   * The object at `key` as the cache holds it now: null when it holds none, undefined while
   * not primed. It may be behind the store: a write decided from it names its revision in the
   * write's `unchanged`.
   */
  peek(key: string): Listed | null | undefined {
    if (this.revision === 0) return undefined;
    return this.objects.get(key) ?? null;
  }

  stop(): void {
    this.stopped = true;
    this.forget();
  }

  private read(namespace: string | undefined): ListRead {
    this.sorted ??= [...this.objects.keys()].sort();
    const keys = this.sorted;
    const prefix = kindPrefix(this.resource.kind, namespace);
    const items: Listed[] = [];
    for (let i = lowerBound(keys, prefix); i < keys.length && keys[i]!.startsWith(prefix); i++) {
      items.push(this.objects.get(keys[i]!)!);
    }
    return { items, revision: this.revision };
  }

  private apply(events: WatchEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'put') {
        const listed = new Listed(this.positionOf(ev.kv.key), ev.kv);
        // Rendered now, on the watch's time, so a list only joins what is ready.
        listed.json();
        if (!this.objects.has(ev.kv.key) && this.sorted) {
          this.sorted.splice(lowerBound(this.sorted, ev.kv.key), 0, ev.kv.key);
        }
        this.objects.set(ev.kv.key, listed);
      } else if (this.objects.delete(ev.key) && this.sorted) {
        this.sorted.splice(lowerBound(this.sorted, ev.key), 1);
      }
    }
    const last = events.at(-1);
    if (last) this.advance(last.type === 'put' ? last.kv.modRevision : last.modRevision);
  }

  private advance(revision: number): void {
    if (revision <= this.revision) return;
    this.revision = revision;
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.revision <= revision) w.done(true);
      else still.push(w);
    }
    this.waiters = still;
  }

  private caughtUp(revision: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, this.catchUpMs);
      const waiter: Waiter = {
        revision,
        done: (caughtUp) => {
          clearTimeout(timer);
          resolve(caughtUp);
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Drops what the cache holds: until primed again, every read goes to the store. */
  private forget(): void {
    this.generation++;
    void this.watch?.cancel();
    this.watch = undefined;
    this.revision = 0;
    this.objects.clear();
    this.sorted = undefined;
    for (const w of this.waiters) w.done(false);
    this.waiters = [];
  }

  private reprimeLater(): void {
    if (this.stopped) return;
    setTimeout(() => {
      if (!this.stopped) void this.prime();
    }, REPRIME_MS).unref();
  }
}

/** The first index whose key is not below `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One cache per kind, made on the kind's first list. */
export class WatchCaches {
  private readonly caches = new Map<string, ResourceCache>();

  constructor(private readonly store: Store) {}

  of(resource: Resource): ResourceCache {
    let cache = this.caches.get(resource.kind);
    if (!cache) {
      cache = new ResourceCache(this.store, resource);
      this.caches.set(resource.kind, cache);
      void cache.prime();
    }
    return cache;
  }

  /**
   * One object: from its kind's cache when the cache holds it (it may be a little behind the
   * store); one the cache lacks is the store's to say, so that a new object counts at once.
   */
  async object<K extends Kind>(
    kind: K,
    namespace: string | undefined,
    name: string,
  ): Promise<ObjectOf<K> | undefined> {
    const listed = this.of(resourceOfKind(kind)!).peek(objectKey(kind, namespace, name));
    if (listed) return listed.object as ObjectOf<K>;
    return getObject(this.store, kind, namespace, name);
  }

  stop(): void {
    for (const c of this.caches.values()) c.stop();
    this.caches.clear();
  }
}
