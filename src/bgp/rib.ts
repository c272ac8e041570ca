// Adj-RIB-In, Loc-RIB and Adj-RIB-Out (RFC 4271 §3.2) in memory. No I/O: every method takes
// routes in and says which prefixes changed their best path, so the speaker sends and installs
// only the difference.
import {
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

export class Rib {
  /** Adj-RIB-In per source (peer address, or 'local'): prefix → path. */
  private readonly adjIn = new Map<string, Map<string, Path>>();
  /** Loc-RIB: the best path per prefix. */
  private readonly best = new Map<string, Path>();
  /** Sources with paths kept through a graceful restart. */
  private readonly staleSources = new Set<string>();
  /** Paths refused by import checks (loops), per source, for status and tests. */
  readonly rejected = new Map<string, number>();

  constructor(readonly local: LocalConfig) {}

  /**
   * Paths for `prefixes` from `source`, all with `attrs` (one Path object shared by all of
   * them). Returns the prefixes whose best path changed. A path that fails import checks
   * withdraws the source's earlier path.
   */
  announce(source: PeerInfo, attrs: PathAttributes, prefixes: readonly string[]): string[] {
    const why = source.kind === 'local' ? undefined : importRejection(this.local, source, attrs);
    if (why) {
      this.rejected.set(source.key, (this.rejected.get(source.key) ?? 0) + prefixes.length);
      return this.withdraw(source, prefixes);
    }
    const stored = source.kind === 'local' ? attrs : importAttributes(source, attrs);
    const path: Path = { attrs: stored, source, stale: false };
    const mine = this.sourceMap(source.key);
    const changed: string[] = [];
    for (const prefix of prefixes) {
      mine.set(prefix, path);
      const current = this.best.get(prefix);
      // Only a replaced best path needs a full reselection; otherwise one comparison decides.
      if (current && current.source.key === source.key) this.reselect(prefix);
      else if (current && comparePaths(path, current) >= 0) continue;
      else this.best.set(prefix, path);
      changed.push(prefix);
    }
    return changed;
  }

  withdraw(source: PeerInfo | string, prefixes: Iterable<string>): string[] {
    const key = typeof source === 'string' ? source : source.key;
    const mine = this.adjIn.get(key);
    const changed: string[] = [];
    if (!mine) return changed;
    for (const prefix of prefixes) {
      if (!mine.delete(prefix)) continue;
      if (this.best.get(prefix)?.source.key !== key) continue;
      this.reselect(prefix);
      changed.push(prefix);
    }
    return changed;
  }

  /** Every path of a source goes (session down without graceful restart). */
  dropSource(key: string): string[] {
    this.staleSources.delete(key);
    const changed = this.withdraw(key, [...(this.adjIn.get(key)?.keys() ?? [])]);
    this.adjIn.delete(key);
    return changed;
  }

  /** Graceful restart: the peer is away; its paths stay but are marked stale. */
  markStale(key: string): void {
    const mine = this.adjIn.get(key);
    if (!mine) return;
    this.staleSources.add(key);
    const staleOf = new Map<Path, Path>();
    for (const [prefix, path] of mine) {
      let stale = staleOf.get(path);
      if (!stale) staleOf.set(path, (stale = { ...path, stale: true }));
      mine.set(prefix, stale);
      // Same attributes, so nothing is re-advertised; the Loc-RIB just shows it stale.
      if (this.best.get(prefix) === path) this.best.set(prefix, stale);
    }
  }

  /** End-of-RIB or restart time over: stale paths of the source that were not renewed go. */
  sweepStale(key: string): string[] {
    if (!this.staleSources.delete(key)) return [];
    const stale: string[] = [];
    for (const [prefix, path] of this.adjIn.get(key) ?? []) if (path.stale) stale.push(prefix);
    return this.withdraw(key, stale);
  }

  /** Loc-RIB. */
  locRib(): ReadonlyMap<string, Path> {
    return this.best;
  }

  /** Adj-RIB-In of one source: prefix → path. */
  adjRibIn(key: string): ReadonlyMap<string, Path> {
    return this.adjIn.get(key) ?? new Map();
  }

  /** Number of paths a source has in the RIB. */
  count(key: string): number {
    return this.adjIn.get(key)?.size ?? 0;
  }

  /** Number of a source's paths still stale (0 unless it is in a graceful restart). */
  staleCount(key: string): number {
    if (!this.staleSources.has(key)) return 0;
    let n = 0;
    for (const path of this.adjIn.get(key)?.values() ?? []) if (path.stale) n++;
    return n;
  }

  private sourceMap(key: string): Map<string, Path> {
    let map = this.adjIn.get(key);
    if (!map) this.adjIn.set(key, (map = new Map()));
    return map;
  }

  /** Recomputes the best path of `prefix` from every source's Adj-RIB-In. */
  private reselect(prefix: string): void {
    let best: Path | undefined;
    for (const mine of this.adjIn.values()) {
      const p = mine.get(prefix);
      if (p && (!best || comparePaths(p, best) < 0)) best = p;
    }
    if (best) this.best.set(prefix, best);
    else this.best.delete(prefix);
  }
}

/** What one peer must be sent: announcements grouped by their (shared) attributes. */
export interface OutgoingChanges {
  announce: Map<PathAttributes, string[]>;
  withdraw: string[];
}

/**
 * Adj-RIB-Out of one peer: what it was last told per prefix. `plan` compares that with what
 * the Loc-RIB says now for the changed prefixes and returns only the difference.
 */
export class AdjRibOut {
  private readonly sent = new Map<string, PathAttributes>();
  /** Exported attributes per source attributes: one object per group keeps UPDATEs packed. */
  private readonly exported = new WeakMap<PathAttributes, PathAttributes>();

  constructor(
    private readonly local: LocalConfig,
    readonly peer: PeerInfo,
  ) {}

  get size(): number {
    return this.sent.size;
  }

  plan(rib: Rib, prefixes: Iterable<string>): OutgoingChanges {
    const locRib = rib.locRib();
    const changes: OutgoingChanges = { announce: new Map(), withdraw: [] };
    for (const prefix of prefixes) {
      const best = locRib.get(prefix);
      const attrs =
        best && mayAdvertise(this.local, best, this.peer) ? this.exportOf(best) : undefined;
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
