// The one narrow interface every podnet process sees the cluster through: list, then watch
// from that revision, re-list when told the revision is too old (the Kubernetes list/watch
// contract). Backends: sqlite (embedded, one machine) and etcd (many machines).

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the last change to this key. */
  modRevision: number;
  /** Revision at which this key was created (reset when deleted and created again). */
  createRevision: number;
  /** Lease the key is bound to, if any. */
  lease?: string;
}

export interface ListResult {
  items: KeyValue[];
  /** Store revision the list was read at: watch from revision + 1 to see every later change. */
  revision: number;
}

export type WatchEvent =
  | { type: 'put'; kv: KeyValue; prevValue?: string }
  | { type: 'delete'; key: string; modRevision: number; prevValue?: string };

export interface WatchHandlers {
  /** Events in revision order, each exactly once. */
  onEvents(events: WatchEvent[]): void;
  /**
   * The watch cannot continue: `compacted` when the start revision is no longer kept
   * (the caller re-lists and watches again), `error` for anything else.
   */
  onError(err: StoreWatchError): void;
  /**
   * Every change under the prefix up to `revision` has been handed to `onEvents`, even when
   * the last of them is older (the store moved on elsewhere): what a cache needs to know it
   * is current. Stores report it after each batch they look at, and soon after
   * `Watch.requestProgress`.
   */
  onProgress?(revision: number): void;
}

export class StoreWatchError extends Error {
  constructor(
    readonly reason: 'compacted' | 'error',
    message: string,
  ) {
    super(message);
    this.name = 'StoreWatchError';
  }
}

export interface Watch {
  cancel(): Promise<void>;
  /** Asks for an `onProgress` soon, rather than whenever the store next reports one. */
  requestProgress?(): void;
}

export type SwapResult =
  | { ok: true; revision: number }
  | {
      ok: false;
      /** The key as it is now; undefined when it does not exist. */
      current?: KeyValue;
      /** The key was as expected, but one of `unchanged` had moved: read those again. */
      staleRead?: true;
    };

export interface PutOptions {
  /** Bind the key to this lease: it disappears when the lease expires or is revoked. */
  lease?: string;
}

/** A key as a decision saw it: its modRevision then, 0 when it was absent. */
export interface KeyRevision {
  key: string;
  modRevision: number;
}

export interface SwapOptions extends PutOptions {
  /**
   * Keys the value was decided from (read from a cache, say): the write is made only if each
   * is still at that revision, checked in the write's own transaction.
   */
  unchanged?: readonly KeyRevision[];
}

export interface Store {
  /** A human-readable locator, e.g. `sqlite:/run/podnet/labs/podnet/store.db`. */
  readonly url: string;
  get(key: string): Promise<KeyValue | undefined>;
  /** The store's current revision, read without reading any key. */
  revision(): Promise<number>;
  list(prefix: string): Promise<ListResult>;
  /** Creates the key only if absent. Returns the new revision, or undefined if it existed. */
  create(key: string, value: string, opts?: PutOptions): Promise<number | undefined>;
  /**
   * Writes the key only if its modRevision is still `expectedRevision` (0 = must be absent).
   * Returns the new revision, or undefined on a conflict.
   */
  update(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: PutOptions,
  ): Promise<number | undefined>;
  /**
   * `update` that, on a conflict, also returns the key as it is now (read in the same step, so
   * a retry loop needs no extra get): etcd's transaction with a read on failure.
   */
  compareAndSwap(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: SwapOptions,
  ): Promise<SwapResult>;
  /** Unconditional write. Returns the new revision. */
  put(key: string, value: string, opts?: PutOptions): Promise<number>;
  /** Deletes the key; with `expectedRevision`, only if unchanged. Returns true if deleted. */
  delete(key: string, expectedRevision?: number): Promise<boolean>;
  /**
   * Streams every change under `prefix` with revision >= fromRevision (0: from now on).
   * A fromRevision that was compacted away is reported through `onError('compacted')`.
   */
  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch;
  /** Grants a lease that expires `ttlSeconds` after its last keep-alive. */
  grantLease(ttlSeconds: number): Promise<string>;
  keepAlive(lease: string): Promise<void>;
  revokeLease(lease: string): Promise<void>;
  /**
   * Forgets the change history before `revision`: a watch from an earlier revision is told
   * `compacted`. Backends also compact on their own; this makes it happen now.
   */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * `create` and `update` for a backend: both are compareAndSwap without the current value, so a
 * backend writes conditionally in one place only.
 */
export abstract class CompareAndSwapWrites {
  abstract compareAndSwap(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: SwapOptions,
  ): Promise<SwapResult>;

  async create(key: string, value: string, opts?: PutOptions): Promise<number | undefined> {
    return this.update(key, value, 0, opts);
  }

  async update(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: PutOptions,
  ): Promise<number | undefined> {
    const r = await this.compareAndSwap(key, value, expectedRevision, opts);
    return r.ok ? r.revision : undefined;
  }
}

/**
 * Hands events to a watcher. A handler that throws is a bug of its own: it surfaces as an
 * uncaught exception instead of breaking the store's other watches.
 */
export function deliver(handlers: WatchHandlers, events: WatchEvent[]): void {
  try {
    handlers.onEvents(events);
  } catch (err) {
    setImmediate(() => {
      throw err;
    });
  }
}
