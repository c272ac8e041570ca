// A Store in memory for unit tests of list/watch consumers: revisions, watches from a
// revision (events delivered asynchronously, in order), and compaction on demand.
import {
  StoreWatchError,
  type KeyValue,
  type ListResult,
  type Store,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from '../../src/store/store.js';

export class MemoryStore implements Store {
  readonly url = 'memory:';
  private revision = 0;
  private compacted = 0;
  private readonly data = new Map<string, KeyValue>();
  private readonly history: WatchEvent[] = [];
  private readonly watches = new Set<{ prefix: string; from: number; h: WatchHandlers }>();
  lists = 0;

  async get(key: string): Promise<KeyValue | undefined> {
    return this.data.get(key);
  }

  async list(prefix: string): Promise<ListResult> {
    this.lists++;
    const items = [...this.data.values()].filter((kv) => kv.key.startsWith(prefix));
    return { items, revision: this.revision };
  }

  async put(key: string, value: string): Promise<number> {
    const rev = ++this.revision;
    const old = this.data.get(key);
    const kv = { key, value, modRevision: rev, createRevision: old?.createRevision ?? rev };
    this.data.set(key, kv);
    this.emit({ type: 'put', kv, prevValue: old?.value });
    return rev;
  }

  async delete(key: string): Promise<boolean> {
    const old = this.data.get(key);
    if (!old) return false;
    this.data.delete(key);
    this.emit({ type: 'delete', key, modRevision: ++this.revision, prevValue: old.value });
    return true;
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    const w = { prefix, from: fromRevision, h: handlers };
    if (fromRevision <= this.compacted) {
      queueMicrotask(() => handlers.onError(new StoreWatchError('compacted', 'compacted')));
      return { cancel: async () => {} };
    }
    const backlog = this.history.filter(
      (e) => revisionOf(e) >= fromRevision && keyOf(e).startsWith(prefix),
    );
    if (backlog.length > 0) queueMicrotask(() => handlers.onEvents(backlog));
    this.watches.add(w);
    return { cancel: async () => void this.watches.delete(w) };
  }

  /** Forgets history up to `revision` and breaks every watch (as a compaction would). */
  compactAndBreakWatches(): void {
    this.compacted = this.revision;
    this.history.length = 0;
    for (const w of [...this.watches]) {
      this.watches.delete(w);
      queueMicrotask(() => w.h.onError(new StoreWatchError('compacted', 'compacted')));
    }
  }

  async create(): Promise<number | undefined> {
    throw new Error('not used');
  }
  async update(): Promise<number | undefined> {
    throw new Error('not used');
  }
  async grantLease(): Promise<string> {
    throw new Error('not used');
  }
  async keepAlive(): Promise<void> {}
  async revokeLease(): Promise<void> {}
  async close(): Promise<void> {}

  private emit(ev: WatchEvent): void {
    this.history.push(ev);
    for (const w of this.watches) {
      if (keyOf(ev).startsWith(w.prefix)) queueMicrotask(() => w.h.onEvents([ev]));
    }
  }
}

function keyOf(e: WatchEvent): string {
  return e.type === 'put' ? e.kv.key : e.key;
}

function revisionOf(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.modRevision : e.modRevision;
}
