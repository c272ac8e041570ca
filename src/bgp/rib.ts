// Adj-RIB-In, Loc-RIB and Adj-RIB-Out (RFC 4271 §3.2) in memory. No I/O: every method takes
// routes in and says which prefixes changed their best path, so the speaker sends and installs
// only the difference.
//
// One table holds every source's paths per prefix. As in BIRD and FRR, the path attributes are
// kept once per UPDATE (one Path object shared by all its prefixes) and a prefix heard from one
// source stores only that shared Path: a full table from one peer costs one map entry per
// prefix and no object of its own. Only a prefix several sources announce gets a Contest.
//
// Prefixes are keys of one address family (`P`; IPv4's is prefix-key.ts's number): a table
// holds one family, as a BIRD channel does, so IPv6 gets a Rib of its own with its own keys.
import {
  bestPath,
  comparePaths,
  exportAttributes,
  importAttributes,
  importRejection,
  mayAdvertise,
  type LocalConfig,
  type Path,
  type PeerInfo,
} from './policy.js';
import type { PathAttributes } from './message.js';
import type { Ipv4PrefixKey } from './prefix-key.js';

/** The paths of a prefix that more than one source announces, one per source, and the best. */
class Contest {
  constructor(
    readonly paths: Path[],
    public best: Path,
  ) {}
}

type Entry = Path | Contest;

function bestOf(entry: Entry): Path {
  return entry instanceof Contest ? entry.best : entry;
}

/** The path `key` holds in `entry`, if any. */
function pathOf(entry: Entry, key: string): Path | undefined {
  if (!(entry instanceof Contest)) return entry.source.key === key ? entry : undefined;
  return entry.paths.find((p) => p.source.key === key);
}

export class Rib<P = Ipv4PrefixKey> {
  /** prefix → the one source's path, or the Contest of several sources' paths. */
  private readonly table = new Map<P, Entry>();
  /** Paths held per source, so counts need no walk over the table. */
  private readonly counts = new Map<string, number>();
  /** Sources with paths kept through a graceful restart. */
  private readonly staleSources = new Set<string>();
  /** Paths refused by import checks (loops), per source, for status and tests. */
  readonly rejected = new Map<string, number>();
  /** Every path that became the best of some prefix since takeNewBests (see AdjRibOut.plan). */
  private newBests = new Set<Path>();
  private readonly bestView: ReadonlyMap<P, Path>;

  constructor(readonly local: LocalConfig) {
    this.bestView = new LocRibView(this.table);
  }

  /**
   * Paths for `prefixes` from `source`, all with `attrs` (one Path object shared by all of
   * them). The prefixes whose best path changed are appended to `changed` (the speaker's
   * list of a turn's changes, so a full table is not copied from list to list), which is
   * returned. A path that fails import checks withdraws the source's earlier path.
   */
  announce(
    source: PeerInfo,
    attrs: PathAttributes,
    prefixes: readonly P[],
    changed: P[] = [],
  ): P[] {
    const why = source.kind === 'local' ? undefined : importRejection(this.local, source, attrs);
    if (why) {
      this.rejected.set(source.key, (this.rejected.get(source.key) ?? 0) + prefixes.length);
      return this.withdraw(source, prefixes, changed);
    }
    const stored = source.kind === 'local' ? attrs : importAttributes(source, attrs);
    const path: Path = { attrs: stored, source, stale: false };
    const key = source.key;
    let added = 0;
    let pathIsBest = false;
    for (let n = 0; n < prefixes.length; n++) {
      const prefix = prefixes[n]!;
      const entry = this.table.get(prefix);
      if (entry === undefined) {
        this.table.set(prefix, path);
        added++;
        pathIsBest = true;
        changed.push(prefix);
      } else if (entry instanceof Contest) {
        const i = entry.paths.findIndex((p) => p.source.key === key);
        if (i < 0) {
          entry.paths.push(path);
          added++;
        } else entry.paths[i] = path;
        // Only a replaced best path needs a full reselection; otherwise one comparison decides.
        if (entry.best.source.key === key) entry.best = bestPath(entry.paths)!;
        else if (comparePaths(path, entry.best) < 0) entry.best = path;
        else continue;
        this.newBests.add(entry.best);
        changed.push(prefix);
      } else if (entry.source.key === key) {
        // An implicit withdraw: the new path replaces the source's own.
        this.table.set(prefix, path);
        pathIsBest = true;
        changed.push(prefix);
      } else {
        const better = comparePaths(path, entry) < 0;
        this.table.set(prefix, new Contest([entry, path], better ? path : entry));
        added++;
        if (better) {
          pathIsBest = true;
          changed.push(prefix);
        }
      }
    }
    if (pathIsBest) this.newBests.add(path);
    if (added) this.counts.set(key, this.count(key) + added);
    return changed;
  }

  /** The source's paths for `prefixes` go; changed prefixes are appended as by announce. */
  withdraw(source: PeerInfo | string, prefixes: readonly P[], changed: P[] = []): P[] {
    const key = typeof source === 'string' ? source : source.key;
    if (this.count(key) === 0) return changed;
    let removed = 0;
    for (let n = 0; n < prefixes.length; n++) {
      const prefix = prefixes[n]!;
      const entry = this.table.get(prefix);
      if (entry === undefined) continue;
      if (!(entry instanceof Contest)) {
        if (entry.source.key !== key) continue;
        this.table.delete(prefix);
        removed++;
        changed.push(prefix);
        continue;
      }
      const i = entry.paths.findIndex((p) => p.source.key === key);
      if (i < 0) continue;
      entry.paths.splice(i, 1);
      removed++;
      const wasBest = entry.best.source.key === key;
      if (entry.paths.length === 1) this.table.set(prefix, entry.paths[0]!);
      else if (wasBest) entry.best = bestPath(entry.paths)!;
      if (wasBest) {
        this.newBests.add(entry.paths.length === 1 ? entry.paths[0]! : entry.best);
        changed.push(prefix);
      }
    }
    this.counts.set(key, this.count(key) - removed);
    return changed;
  }

  /** Every path of a source goes (session down without graceful restart). */
  dropSource(key: string): P[] {
    this.staleSources.delete(key);
    const changed = this.withdraw(
      key,
      this.prefixesOf(key, () => true),
    );
    this.counts.delete(key);
    return changed;
  }

  /** Graceful restart: the peer is away; its paths stay but are marked stale. */
  markStale(key: string): void {
    if (this.count(key) === 0) return;
    this.staleSources.add(key);
    const staleOf = new Map<Path, Path>();
    for (const [prefix, entry] of this.table) {
      const path = pathOf(entry, key);
      if (!path) continue;
      let stale = staleOf.get(path);
      if (!stale) staleOf.set(path, (stale = { ...path, stale: true }));
      // Same attributes, so nothing is re-advertised; the Loc-RIB just shows it stale.
      if (!(entry instanceof Contest)) {
        this.table.set(prefix, stale);
        continue;
      }
      entry.paths[entry.paths.indexOf(path)] = stale;
      if (entry.best === path) entry.best = stale;
    }
  }

  /** End-of-RIB or restart time over: stale paths of the source that were not renewed go. */
  sweepStale(key: string): P[] {
    if (!this.staleSources.delete(key)) return [];
    return this.withdraw(
      key,
      this.prefixesOf(key, (p) => p.stale),
    );
  }

  /** The paths that became a best since the last call, and a fresh start. */
  takeNewBests(): ReadonlySet<Path> {
    const taken = this.newBests;
    this.newBests = new Set();
    return taken;
  }

  /** Loc-RIB: the best path per prefix (a view of the table, not a copy). */
  locRib(): ReadonlyMap<P, Path> {
    return this.bestView;
  }

  /** The best path to `prefix`, if any. */
  bestPath(prefix: P): Path | undefined {
    const entry = this.table.get(prefix);
    return entry && bestOf(entry);
  }

  /** Adj-RIB-In of one source: prefix → path (built by a walk over the table). */
  adjRibIn(key: string): ReadonlyMap<P, Path> {
    const out = new Map<P, Path>();
    if (this.count(key) === 0) return out;
    for (const [prefix, entry] of this.table) {
      const path = pathOf(entry, key);
      if (path) out.set(prefix, path);
    }
    return out;
  }

  /** Number of paths a source has in the RIB. */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Number of a source's paths still stale (0 unless it is in a graceful restart). */
  staleCount(key: string): number {
    if (!this.staleSources.has(key)) return 0;
    return this.prefixesOf(key, (p) => p.stale).length;
  }

  /** The prefixes for which `key` holds a path that passes `keep`. */
  private prefixesOf(key: string, keep: (path: Path) => boolean): P[] {
    const out: P[] = [];
    if (this.count(key) === 0) return out;
    for (const [prefix, entry] of this.table) {
      const path = pathOf(entry, key);
      if (path && keep(path)) out.push(prefix);
    }
    return out;
  }
}

/** The Loc-RIB as a read-only map over the table: every entry's best path. */
class LocRibView<P> implements ReadonlyMap<P, Path> {
  constructor(private readonly table: ReadonlyMap<P, Entry>) {}

  get size(): number {
    return this.table.size;
  }

  get(prefix: P): Path | undefined {
    const entry = this.table.get(prefix);
    return entry && bestOf(entry);
  }

  has(prefix: P): boolean {
    return this.table.has(prefix);
  }

  keys(): MapIterator<P> {
    return this.table.keys();
  }

  *entries(): MapIterator<[P, Path]> {
    for (const [prefix, entry] of this.table) yield [prefix, bestOf(entry)];
  }

  *values(): MapIterator<Path> {
    for (const entry of this.table.values()) yield bestOf(entry);
  }

  [Symbol.iterator](): MapIterator<[P, Path]> {
    return this.entries();
  }

  forEach(fn: (path: Path, prefix: P, map: ReadonlyMap<P, Path>) => void): void {
    for (const [prefix, entry] of this.table) fn(bestOf(entry), prefix, this);
  }
}
/** What one peer must be sent: announcements grouped by their (shared) attributes. */
export interface OutgoingChanges<P = Ipv4PrefixKey> {
  announce: Map<PathAttributes, P[]>;
  withdraw: P[];
}

/**
 * Adj-RIB-Out of one peer: what it was last told per prefix. `plan` compares that with what
 * the Loc-RIB says now for the changed prefixes and returns only the difference.
 */
export class AdjRibOut<P = Ipv4PrefixKey> {
  private readonly sent = new Map<P, PathAttributes>();

  /**
   * `exported`: exported attributes per source attributes. One object per group keeps UPDATEs
   * packed; one map shared by the peers of an exportClass lets them share encoded UPDATEs.
   */
  constructor(
    private readonly local: LocalConfig,
    readonly peer: PeerInfo,
    private readonly exported = new WeakMap<PathAttributes, PathAttributes>(),
  ) {}

  get size(): number {
    return this.sent.size;
  }

  /**
   * `newBests`, when given, holds every path that became the best of one of `prefixes` since
   * they last went through plan (Rib.takeNewBests): a peer that was sent nothing and may have
   * none of them needs nothing, decided without a lookup per prefix. That is a full table
   * arriving from the very peer (or one it may not be told of) before anything was sent to it.
   */
  plan(rib: Rib<P>, prefixes: readonly P[], newBests?: ReadonlySet<Path>): OutgoingChanges<P> {
    const changes: OutgoingChanges<P> = { announce: new Map(), withdraw: [] };
    if (newBests && this.sent.size === 0 && !this.mayHaveAny(newBests)) return changes;
    // Prefixes of one UPDATE share their Path: the export decision is taken once per run.
    let lastBest: Path | undefined;
    let lastAttrs: PathAttributes | undefined;
    for (let n = 0; n < prefixes.length; n++) {
      const prefix = prefixes[n]!;
      const best = rib.bestPath(prefix);
      if (best !== lastBest) {
        lastBest = best;
        lastAttrs =
          best && mayAdvertise(this.local, best, this.peer) ? this.exportOf(best) : undefined;
      }
      const attrs = lastAttrs;
      // Nothing to withdraw from a peer that was never sent anything (the common case while
      // a full table arrives from that very peer).
      if (!attrs && this.sent.size === 0) continue;
      const before = this.sent.get(prefix);
      if (attrs === before) continue;
      if (attrs) {
        this.sent.set(prefix, attrs);
        const group = changes.announce.get(attrs);
        if (group) group.push(prefix);
        else changes.announce.set(attrs, [prefix]);
      } else {
        this.sent.delete(prefix);
        changes.withdraw.push(prefix);
      }
    }
    return changes;
  }

  private mayHaveAny(paths: ReadonlySet<Path>): boolean {
    for (const path of paths) if (mayAdvertise(this.local, path, this.peer)) return true;
    return false;
  }

  /** Forgets what was sent (the session went down; a new one starts from nothing). */
  clear(): void {
    this.sent.clear();
  }

  private exportOf(best: Path): PathAttributes {
    // The cache is keyed by the path's attributes object; a path's source is fixed for a given
    // attributes object because import stores one object per (source, UPDATE).
    let out = this.exported.get(best.attrs);
    if (!out) {
      out = exportAttributes(this.local, best, this.peer);
      this.exported.set(best.attrs, out);
    }
    return out;
  }
}
