// One store watch per key prefix, whatever the number of API watchers on it: each watcher
// joins the shared feed and gets the events from its own revision on. The feed keeps its
// recent events, so a watcher starting at a revision the feed has already passed is replayed
// them; one starting before what is kept gets a store watch of its own (which also reports a
// compacted revision as the store does). The feed stops when its last watcher leaves.
import {
  deliver,
  type Store,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from '../store/store.js';

/** Events a feed keeps for watchers that start behind it. */
const KEPT_EVENTS = 1000;

const revisionOf = (e: WatchEvent) => (e.type === 'put' ? e.kv.modRevision : e.modRevision);

interface Watcher {
  /** The first revision this watcher has not been given. */
  next: number;
  handlers: WatchHandlers;
}

class Feed {
  readonly watchers = new Set<Watcher>();
  private readonly recent: WatchEvent[] = [];
  /** Every event from this revision on is in `recent`. */
  keptFrom: number;
  private readonly watch: Watch;

  constructor(store: Store, prefix: string, from: number, onEnd: () => void) {
    this.keptFrom = from;
    this.watch = store.watch(prefix, from, {
      onEvents: (events) => {
        this.keep(events);
        for (const w of this.watchers) give(w, events);
      },
      onError: (err) => {
        onEnd();
        for (const w of this.watchers) w.handlers.onError(err);
        this.watchers.clear();
      },
    });
  }

  join(w: Watcher): void {
    this.watchers.add(w);
    // After the caller has set up, and before any later store event (a macrotask) arrives.
    queueMicrotask(() => {
      if (this.watchers.has(w)) give(w, this.recent);
    });
  }

  stop(): void {
    void this.watch.cancel();
  }

  private keep(events: WatchEvent[]): void {
    this.recent.push(...events);
    if (this.recent.length <= KEPT_EVENTS) return;
    // Drop whole revisions only, so that what is kept starts at a revision boundary.
    const dropped = revisionOf(this.recent[this.recent.length - KEPT_EVENTS - 1]!);
    let cut = 0;
    while (cut < this.recent.length && revisionOf(this.recent[cut]!) <= dropped) cut++;
    this.recent.splice(0, cut);
    this.keptFrom = dropped + 1;
  }
}

/** The events from the watcher's next revision on, each exactly once. */
function give(w: Watcher, events: readonly WatchEvent[]): void {
  const fresh = events.filter((e) => revisionOf(e) >= w.next);
  if (fresh.length === 0) return;
  w.next = revisionOf(fresh.at(-1)!) + 1;
  deliver(w.handlers, fresh);
}

export class SharedWatches {
  private readonly feeds = new Map<string, Feed>();

  constructor(private readonly store: Store) {}

  /** As `Store.watch`, for a `fromRevision` above 0. */
  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    let feed = this.feeds.get(prefix);
    if (feed && fromRevision < feed.keptFrom) {
      return this.store.watch(prefix, fromRevision, handlers);
    }
    if (!feed) {
      const made: Feed = new Feed(this.store, prefix, fromRevision, () => {
        if (this.feeds.get(prefix) === made) this.feeds.delete(prefix);
      });
      feed = made;
      this.feeds.set(prefix, feed);
    }
    const joined = feed;
    const watcher: Watcher = { next: fromRevision, handlers };
    joined.join(watcher);
    return {
      cancel: async () => {
        joined.watchers.delete(watcher);
        if (joined.watchers.size > 0 || this.feeds.get(prefix) !== joined) return;
        this.feeds.delete(prefix);
        joined.stop();
      },
    };
  }
}
