// Adj-RIB-In, Loc-RIB and Adj-RIB-Out (RFC 4271 §3.2) in memory. No I/O: every method takes
// routes in and says which prefixes changed their best path, so the speaker sends and installs
// only the difference.
import {
  bestPath,
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
  /** Every path per prefix, one per source (the union of all Adj-RIBs-In). */
  private readonly paths = new Map<string, Path[]>();
  /** Loc-RIB: the best path per prefix. */
  private readonly best = new Map<string, Path>();
  /** Prefixes each source has paths for, to drop a peer without scanning everything. */
  private readonly bySource = new Map<string, Set<string>>();
  /** Paths refused by import checks (loops), per source, for status and tests. */
  readonly rejected = new Map<string, number>();

  constructor(readonly local: LocalConfig) {}

  /**
   * Paths for `prefixes` from `source`, all with `attrs`. Returns the prefixes whose best
   * path changed. A path that fails import checks withdraws the source's earlier path.
   */
  announce(source: PeerInfo, attrs: PathAttributes, prefixes: readonly string[]): string[] {
    const why = source.kind === 'local' ? undefined : importRejection(this.local, source, attrs);
    if (why) {
      this.rejected.set(source.key, (this.rejected.get(source.key) ?? 0) + prefixes.length);
      return this.withdraw(source, prefixes);
    }
    const stored = source.kind === 'local' ? attrs : importAttributes(source, attrs);
    const mine = this.sourceSet(source.key);
    const changed: string[] = [];
    for (const prefix of prefixes) {
      const path: Path = { attrs: stored, source, stale: false };
      const list = this.paths.get(prefix);
      if (!list) this.paths.set(prefix, [path]);
      else {
        const i = list.findIndex((p) => p.source.key === source.key);
        if (i >= 0) list[i] = path;
        else list.push(path);
      }
      mine.add(prefix);
      if (this.reselect(prefix)) changed.push(prefix);
    }
    return changed;
  }

  withdraw(source: PeerInfo | string, prefixes: Iterable<string>): string[] {
    const key = typeof source === 'string' ? source : source.key;
    const mine = this.bySource.get(key);
    const changed: string[] = [];
    for (const prefix of prefixes) {
      if (!mine?.delete(prefix)) continue;
      const list = this.paths.get(prefix)!;
      const rest = list.filter((p) => p.source.key !== key);
      if (rest.length) this.paths.set(prefix, rest);
      else this.paths.delete(prefix);
      if (this.reselect(prefix)) changed.push(prefix);
    }
    return changed;
  }

  /** Every path of a source goes (session down without graceful restart). */
  dropSource(key: string): string[] {
    return this.withdraw(key, [...(this.bySource.get(key) ?? [])]);
  }

  /** Graceful restart: the peer is away; its paths stay but are marked stale. */
  markStale(key: string): void {
    for (const prefix of this.bySource.get(key) ?? []) {
      for (const p of this.paths.get(prefix) ?? []) if (p.source.key === key) p.stale = true;
    }
  }

  /** End-of-RIB or restart time over: stale paths of the source that were not renewed go. */
  sweepStale(key: string): string[] {
    const stale: string[] = [];
    for (const prefix of this.bySource.get(key) ?? []) {
      const p = this.paths.get(prefix)?.find((x) => x.source.key === key);
      if (p?.stale) stale.push(prefix);
    }
    return this.withdraw(key, stale);
  }

  /** Loc-RIB. */
  locRib(): ReadonlyMap<string, Path> {
    return this.best;
  }

  /** Adj-RIB-In of one source: prefix → path. */
  adjRibIn(key: string): Map<string, Path> {
    const out = new Map<string, Path>();
    for (const prefix of this.bySource.get(key) ?? []) {
      const p = this.paths.get(prefix)?.find((x) => x.source.key === key);
      if (p) out.set(prefix, p);
    }
    return out;
  }

  private sourceSet(key: string): Set<string> {
    let set = this.bySource.get(key);
    if (!set) this.bySource.set(key, (set = new Set()));
    return set;
  }

  /** Recomputes the best path of `prefix`; true when it changed (or its attributes did). */
  private reselect(prefix: string): boolean {
    const list = this.paths.get(prefix);
    const next = list ? bestPath(list) : undefined;
    const prev = this.best.get(prefix);
    if (next) this.best.set(prefix, next);
    else this.best.delete(prefix);
    return prev !== next;
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
