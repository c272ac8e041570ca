// One list+watch per kind for a whole process, shared by every controller in it (client-go's
// shared informer factory): each kind is listed and watched once, however many handlers it
// has. A handler added late is first told the cached objects, so it never depends on when it
// was registered. Each kind also says which revision every handler has finished with: tests
// and callers wait for that instead of sleeping to prove that a change caused nothing.
import { Gauge, type Registry } from 'prom-client';
import type { Kind } from '../api/types.js';
import { startInformer, type Change, type Informer } from './informer.js';
import type { ObjectOf } from './objects.js';
import type { Store } from './store.js';

/**
 * Told every change of one kind. A handler that starts work of its own (a reconcile, a sync)
 * may return a promise for it: the change counts as processed once that has settled.
 */
export type ChangeHandler<T> = (change: Change<T>) => void | Promise<void>;

export interface SharedInformer<T> {
  /** Current objects by `namespace/name` (or `name`). */
  readonly cache: ReadonlyMap<string, T>;
  /** Resolves once the first list is in the cache. */
  readonly synced: Promise<void>;
  /** Adds a handler; it is told at once every object already cached, as `added`. */
  addHandler(handler: ChangeHandler<T>): void;
  /** The revision up to which every handler has finished with every change (0: none yet). */
  processedRevision(): number;
  /**
   * Resolves once every handler has finished with every change of this kind up to `revision`:
   * pass the revision a write of this kind returned (the store sends no progress of its own,
   * so a revision of another kind is only reached when this kind changes again).
   */
  waitForRevision(revision: number): Promise<void>;
}

export interface InformerCacheOptions {
  /** Told when listing or watching a kind failed (each informer retries on its own). */
  onError?: (kind: Kind, message: string) => void;
  /** Where to export each kind's processed revision (`podnet_informer_processed_revision`). */
  metrics?: Registry;
  /** What the cache keeps of each object of a kind, where not the whole object. */
  transforms?: { [K in Kind]?: (object: ObjectOf<K>) => ObjectOf<K> };
}

export class InformerCache {
  private readonly informers = new Map<
    Kind,
    { processedRevision(): number; stop(): Promise<void> }
  >();

  constructor(
    private readonly store: Store,
    private readonly opts: InformerCacheOptions = {},
  ) {
    if (opts.metrics) {
      const informers = this.informers;
      new Gauge({
        name: 'podnet_informer_processed_revision',
        help: 'Store revision up to which every handler has processed the changes, by kind',
        labelNames: ['kind'],
        registers: [opts.metrics],
        collect() {
          for (const [kind, informer] of informers)
            this.set({ kind }, informer.processedRevision());
        },
      });
    }
  }

  /** The one informer of `kind`, started on first request. */
  informer<K extends Kind>(kind: K): SharedInformer<ObjectOf<K>> {
    let shared = this.informers.get(kind) as SharedKind<K> | undefined;
    if (!shared) {
      shared = new SharedKind(this.store, kind, this.opts.onError, this.opts.transforms?.[kind]);
      this.informers.set(kind, shared);
    }
    return shared;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}

class SharedKind<K extends Kind> implements SharedInformer<ObjectOf<K>> {
  private readonly handlers: ChangeHandler<ObjectOf<K>>[] = [];
  private readonly informer: Informer<ObjectOf<K>>;
  /** Work handlers returned for changes not yet covered by a revision mark. */
  private inFlight: Promise<unknown>[] = [];
  /** Revision marks settle in order: a later one never overtakes an earlier one's work. */
  private marks: Promise<void> = Promise.resolve();
  private processed = 0;
  private waiters: { revision: number; resolve: () => void }[] = [];

  constructor(
    store: Store,
    kind: K,
    onError?: (kind: Kind, message: string) => void,
    transform?: (object: ObjectOf<K>) => ObjectOf<K>,
  ) {
    this.informer = startInformer(store, kind, {
      transform,
      onChange: (change) => {
        for (const handler of this.handlers) this.call(handler, change);
      },
      onRevision: (revision) => this.mark(revision),
      onError: (message) => onError?.(kind, message),
    });
  }

  get cache(): ReadonlyMap<string, ObjectOf<K>> {
    return this.informer.cache;
  }

  get synced(): Promise<void> {
    return this.informer.synced;
  }

  addHandler(handler: ChangeHandler<ObjectOf<K>>): void {
    this.handlers.push(handler);
    for (const [name, object] of this.informer.cache) {
      const revision = Number(object.metadata.resourceVersion ?? 0);
      this.call(handler, { type: 'added', name, object, revision });
    }
  }

  processedRevision(): number {
    return this.processed;
  }

  waitForRevision(revision: number): Promise<void> {
    if (this.processed >= revision) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ revision, resolve }));
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  private call(handler: ChangeHandler<ObjectOf<K>>, change: Change<ObjectOf<K>>): void {
    const work = handler(change);
    if (work) this.inFlight.push(work);
  }

  private mark(revision: number): void {
    const work = this.inFlight;
    this.inFlight = [];
    this.marks = this.marks
      .then(() => Promise.allSettled(work))
      .then(() => {
        this.processed = Math.max(this.processed, revision);
        const due = this.waiters.filter((w) => w.revision <= this.processed);
        this.waiters = this.waiters.filter((w) => w.revision > this.processed);
        for (const w of due) w.resolve();
      });
  }
}
