// A store that remembers how to undo what was written through it: the registry's transaction.
// Allocators (cluster IPs, node ports) and object writes all go through one journal, so a
// failure anywhere in a manifest puts back every key exactly as it was before, reservations
// and objects alike. The store has no multi-key transaction that spans reads, allocation and
// writes, so this is a compensating one, as Kubernetes' service storage does it: each undo is
// conditional on the key still holding what this journal wrote, so it never overwrites a
// change someone else made meanwhile (that key is reported instead).
import { CompareAndSwapWrites } from '../store/store.js';
import type {
  KeyValue,
  ListResult,
  PutOptions,
  Store,
  SwapOptions,
  SwapResult,
  Watch,
  WatchHandlers,
} from '../store/store.js';
import { OperationError } from '../util/errors.js';

interface Undo {
  key: string;
  /** The key before the first write through the journal; undefined when it was absent. */
  before?: KeyValue;
  /** The key's revision after the journal's last write to it; 0 when the journal deleted it. */
  written: number;
}

// Its create and update are compareAndSwap below (CompareAndSwapWrites): every conditional
// write is remembered in one place.
export class Journal extends CompareAndSwapWrites implements Store {
  private readonly undo = new Map<string, Undo>();

  constructor(private readonly store: Store) {
    super();
  }

  get url(): string {
    return this.store.url;
  }

  /** How many keys the journal changed (what a rollback would put back). */
  get changedKeys(): number {
    return this.undo.size;
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.store.get(key);
  }

  revision(): Promise<number> {
    return this.store.revision();
  }

  list(prefix: string): Promise<ListResult> {
    return this.store.list(prefix);
  }

  async compareAndSwap(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: SwapOptions,
  ): Promise<SwapResult> {
    // A key that must be absent had nothing before: no read needed to undo the write.
    if (expectedRevision === 0) {
      const r = await this.store.compareAndSwap(key, value, 0, opts);
      if (r.ok) this.written(key, undefined, r.revision);
      return r;
    }
    const before = await this.store.get(key);
    if ((before?.modRevision ?? 0) !== expectedRevision) return { ok: false, current: before };
    const r = await this.store.compareAndSwap(key, value, expectedRevision, opts);
    if (r.ok) this.written(key, before, r.revision);
    return r;
  }

  async put(key: string, value: string, opts?: PutOptions): Promise<number> {
    // Read and write in one compare-and-swap, so the remembered "before" is what was replaced.
    for (;;) {
      const before = await this.store.get(key);
      const r = await this.store.compareAndSwap(key, value, before?.modRevision ?? 0, opts);
      if (r.ok) return this.written(key, before, r.revision)!;
    }
  }

  async delete(key: string, expectedRevision?: number): Promise<boolean> {
    const before = await this.store.get(key);
    if (!before) return false;
    if (expectedRevision !== undefined && before.modRevision !== expectedRevision) return false;
    const deleted = await this.store.delete(key, before.modRevision);
    if (deleted) this.written(key, before, 0);
    return deleted;
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    return this.store.watch(prefix, fromRevision, handlers);
  }

  grantLease(ttlSeconds: number): Promise<string> {
    return this.store.grantLease(ttlSeconds);
  }

  keepAlive(lease: string): Promise<void> {
    return this.store.keepAlive(lease);
  }

  revokeLease(lease: string): Promise<void> {
    return this.store.revokeLease(lease);
  }

  compact(revision: number): Promise<void> {
    return this.store.compact(revision);
  }

  /** The journal does not own the store: closing is its opener's business. */
  async close(): Promise<void> {}

  /**
   * Puts every changed key back as it was, newest change first. Throws an OperationError
   * naming the keys that changed under the journal and could not be put back.
   */
  async rollback(): Promise<void> {
    const stuck: string[] = [];
    for (const u of [...this.undo.values()].reverse()) {
      if (!(await this.restore(u))) stuck.push(u.key);
    }
    this.undo.clear();
    if (stuck.length > 0) {
      throw new OperationError(
        `store: could not undo ${stuck.join(', ')}: changed by someone else meanwhile; run 'podnet repair'`,
      );
    }
  }

  /** Keeps what was written: the journal forgets how to undo it. */
  commit(): void {
    this.undo.clear();
  }

  private written(key: string, before: KeyValue | undefined, revision: number | undefined) {
    if (revision === undefined) return undefined;
    const known = this.undo.get(key);
    this.undo.set(key, { key, before: known ? known.before : before, written: revision });
    return revision;
  }

  private async restore(u: Undo): Promise<boolean> {
    if (!u.before) {
      if (u.written === 0) return (await this.store.get(u.key)) === undefined;
      return this.store.delete(u.key, u.written);
    }
    const opts = u.before.lease ? { lease: u.before.lease } : undefined;
    const r = await this.store.compareAndSwap(u.key, u.before.value, u.written, opts);
    return r.ok;
  }
}
