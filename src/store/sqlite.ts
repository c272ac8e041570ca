// The embedded store: one SQLite file in WAL mode, shared by every podnet process on the
// machine. A `kv` table holds the current keys; every write transaction takes the next
// revision and appends its changes to `log`, which watchers poll (any process's writes reach
// any process's watchers). Lease expiry is done by whichever process notices first, inside a
// write transaction, so the deletes are logged exactly once.
//
// It uses Node's built-in SQLite (`node:sqlite`): no native module to compile for each Node
// release, and nothing fetched at install time beyond the npm registry.
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { OperationError, StoreUnavailableError } from '../util/errors.js';
import { BackgroundCheckpoints } from './sqlite-checkpoints.js';
import {
  CompareAndSwapWrites,
  deliver,
  StoreWatchError,
  type KeyValue,
  type ListResult,
  type PutOptions,
  type Store,
  type SwapOptions,
  type SwapResult,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from './store.js';

/**
 * History is trimmed every this many revisions, inside the write that reaches one: each trim
 * deletes about this many log rows. A trim of 1,000 rows held its write (and every request
 * behind it) for 7-10 ms; one of 100 costs about a tenth of that. History kept stays at
 * least `retainRevisions`.
 */
export const COMPACT_EVERY = 100;

export interface SqliteOptions {
  /** How often watchers look for new revisions. */
  pollMs?: number;
  /** Revisions of history kept for watchers; older log rows are compacted away. */
  retainRevisions?: number;
  /** How long a write waits for another process's write lock before giving up. */
  busyTimeoutMs?: number;
  /**
   * Copy the WAL back into the file on a worker thread rather than inside a write (see
   * sqlite-checkpoints.ts): for a process that answers requests on this thread.
   */
  checkpointsInBackground?: boolean;
  /** How often the worker checkpoints (default 200 ms). */
  checkpointEveryMs?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  mod_revision INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  lease INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_lease ON kv (lease) WHERE lease IS NOT NULL;
CREATE TABLE IF NOT EXISTS log (
  revision INTEGER NOT NULL,
  key TEXT NOT NULL,
  type TEXT NOT NULL,
  value TEXT,
  create_revision INTEGER,
  lease INTEGER,
  prev_value TEXT,
  PRIMARY KEY (revision, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 1), ('compacted', 0);
CREATE TABLE IF NOT EXISTS leases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ttl_ms INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_expiry ON leases (expires_at);
`;

interface KvRow {
  key: string;
  value: string;
  mod_revision: number;
  create_revision: number;
  lease: number | null;
}

interface LogRow {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  value: string | null;
  create_revision: number | null;
  lease: number | null;
  prev_value: string | null;
}

interface SqliteWatcher {
  prefix: string;
  end: string;
  next: number;
  handlers: WatchHandlers;
}

/** The first key after every key that starts with `prefix` ('' = no upper bound). */
function prefixEnd(prefix: string): string {
  if (prefix === '') return '';
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

/**
 * Statements return rows as arrays, read into these objects here: node:sqlite builds a row
 * object in V8's old generation (about 70 bytes a row, measured on Node 24), so every read of
 * every poll became garbage only a major collection frees, and a long-running process's
 * resident size crept between them. An array row is young garbage, and so are these objects.
 */
type Cell = string | number | null;
const KV_COLUMNS = 'key, value, mod_revision, create_revision, lease';
const LOG_COLUMNS = 'revision, key, type, value, create_revision, lease, prev_value';

function kvRow(cells: Cell[]): KvRow {
  const [key, value, modRevision, createRevision, lease] = cells;
  return {
    key: key as string,
    value: value as string,
    mod_revision: modRevision as number,
    create_revision: createRevision as number,
    lease: lease as number | null,
  };
}

function logRow(cells: Cell[]): LogRow {
  const [revision, key, type, value, createRevision, lease, prevValue] = cells;
  return {
    revision: revision as number,
    key: key as string,
    type: type as LogRow['type'],
    value: value as string | null,
    create_revision: createRevision as number | null,
    lease: lease as number | null,
    prev_value: prevValue as string | null,
  };
}

function toKeyValue(row: KvRow): KeyValue {
  const kv: KeyValue = {
    key: row.key,
    value: row.value,
    modRevision: row.mod_revision,
    createRevision: row.create_revision,
  };
  if (row.lease !== null) kv.lease = String(row.lease);
  return kv;
}

function toEvent(row: LogRow): WatchEvent {
  const prevValue = row.prev_value ?? undefined;
  if (row.type === 'delete') {
    return { type: 'delete', key: row.key, modRevision: row.revision, prevValue };
  }
  const kv = toKeyValue({
    key: row.key,
    value: row.value!,
    mod_revision: row.revision,
    create_revision: row.create_revision!,
    lease: row.lease,
  });
  return { type: 'put', kv, prevValue };
}

export class SqliteStore extends CompareAndSwapWrites implements Store {
  readonly url: string;
  private readonly db: DatabaseSync;
  private readonly watchers = new Set<SqliteWatcher>();
  private readonly statements = new Map<string, StatementSync>();
  private readonly timer: NodeJS.Timeout;
  private readonly retain: number;
  private lastLeaseCheck = 0;
  private closed = false;
  /**
   * `PRAGMA data_version` when the watchers last read the log: it moves with every commit of
   * another connection, so a poll that finds it unmoved, and `pollDue` unset, has nothing to read.
   * Idle polls, 50 a second in every process of a lab, then cost one small query, not a
   * transaction.
   */
  private polledDataVersion = -1;
  /** This connection wrote, or a watcher was added or asked for progress, since the last read. */
  private pollDue = true;
  /** The worker that checkpoints, when asked for. */
  readonly checkpoints: BackgroundCheckpoints | undefined;

  constructor(
    readonly path: string,
    opts: SqliteOptions = {},
  ) {
    super();
    this.url = `sqlite:${path}`;
    this.retain = opts.retainRevisions ?? 10_000;
    this.db = this.guard('open', () => {
      const db = new DatabaseSync(path, { timeout: opts.busyTimeoutMs ?? 5000 });
      db.exec('PRAGMA journal_mode = WAL');
      // WAL + NORMAL survives a crashed process (not a power cut), which is what a lab needs.
      db.exec('PRAGMA synchronous = NORMAL');
      inTransaction(db, 'IMMEDIATE', () => db.exec(SCHEMA));
      return db;
    });
    if (opts.checkpointsInBackground && path !== ':memory:') {
      this.checkpoints = new BackgroundCheckpoints(this.db, path, opts.checkpointEveryMs);
    }
    this.timer = setInterval(() => this.tick(), opts.pollMs ?? 20);
    this.timer.unref();
  }

  /** Runs a database call, turning a locked or missing database into StoreUnavailableError. */
  private guard<T>(what: string, fn: () => T): T {
    if (this.closed) throw new OperationError(`store ${this.url}: already closed`);
    try {
      return fn();
    } catch (err) {
      if (isUnavailable(err)) {
        throw new StoreUnavailableError(`store ${this.url}: ${what}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw err;
    }
  }

  /** Prepared statements, compiled once per connection. */
  private sql(text: string): StatementSync {
    let stmt = this.statements.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text);
      stmt.setReturnArrays(true);
      this.statements.set(text, stmt);
    }
    return stmt;
  }

  /** The first row's cells, or undefined. */
  private one(text: string, ...params: SQLInputValue[]): Cell[] | undefined {
    return this.sql(text).get(...params) as unknown as Cell[] | undefined;
  }

  private all(text: string, ...params: SQLInputValue[]): Cell[][] {
    return this.sql(text).all(...params) as unknown as Cell[][];
  }

  private storedRevision(): number {
    return this.one(`SELECT value FROM meta WHERE name = 'revision'`)![0] as number;
  }

  private row(key: string): KvRow | undefined {
    const cells = this.one(`SELECT ${KV_COLUMNS} FROM kv WHERE key = ?`, key);
    return cells && kvRow(cells);
  }

  /**
   * One write transaction. `fn` gets the revision its changes will carry and returns whether it
   * changed anything; only then is the revision taken.
   */
  private write<T>(what: string, fn: (rev: number) => { changed: boolean; result: T }): T {
    return this.guard(what, () => {
      const out = inTransaction(this.db, 'IMMEDIATE', () => {
        const rev = this.storedRevision() + 1;
        const r = fn(rev);
        if (r.changed) {
          this.pollDue = true;
          this.sql(`UPDATE meta SET value = ? WHERE name = 'revision'`).run(rev);
          if (rev % COMPACT_EVERY === 0) this.compactLocked(rev - this.retain);
        }
        return r;
      });
      return out.result;
    });
  }

  private putLocked(
    rev: number,
    key: string,
    value: string,
    prev: KvRow | undefined,
    lease?: string,
  ) {
    const leaseId = lease === undefined ? null : Number(lease);
    if (leaseId !== null) {
      const alive = this.one(
        `SELECT 1 FROM leases WHERE id = ? AND expires_at > ?`,
        leaseId,
        Date.now(),
      );
      if (!alive)
        throw new OperationError(`store ${this.url}: lease ${lease} not found or expired`);
    }
    const createRev = prev ? prev.create_revision : rev;
    this.sql(
      `INSERT INTO kv (key, value, mod_revision, create_revision, lease) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_revision = excluded.mod_revision,
           lease = excluded.lease`,
    ).run(key, value, rev, createRev, leaseId);
    this.sql(
      `INSERT INTO log (revision, key, type, value, create_revision, lease, prev_value)
         VALUES (?, ?, 'put', ?, ?, ?, ?)`,
    ).run(rev, key, value, createRev, leaseId, prev?.value ?? null);
  }

  private deleteLocked(rev: number, row: KvRow): void {
    this.sql(`DELETE FROM kv WHERE key = ?`).run(row.key);
    this.sql(`INSERT INTO log (revision, key, type, prev_value) VALUES (?, ?, 'delete', ?)`).run(
      rev,
      row.key,
      row.value,
    );
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.expireLeases();
    const row = this.guard('get', () => this.row(key));
    return row && toKeyValue(row);
  }

  async revision(): Promise<number> {
    // As a list would: keys whose lease is over are gone before the revision is read.
    this.expireLeases();
    return this.guard('revision', () => this.storedRevision());
  }

  async list(prefix: string): Promise<ListResult> {
    this.expireLeases();
    return this.guard('list', () =>
      inTransaction(this.db, 'DEFERRED', () => {
        const end = prefixEnd(prefix);
        const rows =
          end === ''
            ? this.all(`SELECT ${KV_COLUMNS} FROM kv WHERE key >= ? ORDER BY key`, prefix)
            : this.all(
                `SELECT ${KV_COLUMNS} FROM kv WHERE key >= ? AND key < ? ORDER BY key`,
                prefix,
                end,
              );
        return {
          items: rows.map((cells) => toKeyValue(kvRow(cells))),
          revision: this.storedRevision(),
        };
      }),
    );
  }

  async compareAndSwap(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: SwapOptions,
  ): Promise<SwapResult> {
    return this.write('update', (rev): { changed: boolean; result: SwapResult } => {
      const prev = this.row(key);
      const current = prev ? prev.mod_revision : 0;
      if (current !== expectedRevision) {
        return { changed: false, result: { ok: false, current: prev && toKeyValue(prev) } };
      }
      const moved = opts?.unchanged?.some(
        (u) => (this.row(u.key)?.mod_revision ?? 0) !== u.modRevision,
      );
      if (moved) {
        return {
          changed: false,
          result: { ok: false, current: prev && toKeyValue(prev), staleRead: true },
        };
      }
      this.putLocked(rev, key, value, prev, opts?.lease);
      return { changed: true, result: { ok: true, revision: rev } };
    });
  }

  async put(key: string, value: string, opts?: PutOptions): Promise<number> {
    return this.write('put', (rev) => {
      this.putLocked(rev, key, value, this.row(key), opts?.lease);
      return { changed: true, result: rev };
    });
  }

  async delete(key: string, expectedRevision?: number): Promise<boolean> {
    return this.write('delete', (rev) => {
      const row = this.row(key);
      if (!row || (expectedRevision !== undefined && row.mod_revision !== expectedRevision)) {
        return { changed: false, result: false };
      }
      this.deleteLocked(rev, row);
      return { changed: true, result: true };
    });
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    const compacted = this.guard('watch', () => this.compactedRevision());
    const watcher: SqliteWatcher = {
      prefix,
      end: prefixEnd(prefix),
      next: fromRevision > 0 ? fromRevision : this.guard('watch', () => this.storedRevision()) + 1,
      handlers,
    };
    if (fromRevision > 0 && fromRevision <= compacted) {
      setImmediate(() => handlers.onError(compactedError(fromRevision, compacted)));
      return { cancel: async () => {} };
    }
    this.watchers.add(watcher);
    this.pollDue = true;
    this.timer.ref();
    return {
      cancel: async () => {
        this.watchers.delete(watcher);
        if (this.watchers.size === 0) this.timer.unref();
      },
      // A poll now instead of at the next tick: a caller waiting on progress waits less.
      requestProgress: () =>
        setImmediate(() => {
          this.pollDue = true;
          this.tick();
        }),
    };
  }

  private dataVersion(): number {
    return this.one('PRAGMA data_version')![0] as number;
  }

  private compactedRevision(): number {
    return this.one(`SELECT value FROM meta WHERE name = 'compacted'`)![0] as number;
  }

  /** One poll: expire leases now and then, and hand new log rows to the watchers. */
  private tick(): void {
    if (this.closed) return;
    try {
      if (Date.now() - this.lastLeaseCheck >= 200) this.expireLeases();
      if (this.watchers.size > 0) this.pollWatchers();
    } catch (err) {
      // A locked database is retried on the next tick; anything else ends the watches.
      if (err instanceof StoreUnavailableError) return;
      const failure = new StoreWatchError('error', `store ${this.url}: watch: ${String(err)}`);
      for (const w of [...this.watchers]) {
        this.watchers.delete(w);
        w.handlers.onError(failure);
      }
    }
  }

  private pollWatchers(): void {
    // Read before the log: a commit after this moves the version, and the next poll reads it.
    const dataVersion = this.guard('watch', () => this.dataVersion());
    if (dataVersion === this.polledDataVersion && !this.pollDue) return;
    // One snapshot: each watcher's rows, the revision they lead up to and the compaction point
    // agree. Each watcher reads only the rows under its prefix: a process watching a few kinds
    // does not decode every pod status and lease renewal the cluster writes.
    const { revision, compacted, batches } = this.guard('watch', () =>
      inTransaction(this.db, 'DEFERRED', () => {
        const revision = this.storedRevision();
        const due = [...this.watchers].filter((w) => w.next <= revision);
        const compacted = due.length > 0 ? this.compactedRevision() : 0;
        const batches = due.map((w) => ({
          w,
          rows: w.next <= compacted ? [] : this.rowsUnder(w),
        }));
        return { revision, compacted, batches };
      }),
    );
    // Only once read: a failed read leaves the poll due. A watcher's handler that writes below
    // sets it again.
    this.polledDataVersion = dataVersion;
    this.pollDue = false;
    for (const { w, rows } of batches) {
      if (!this.watchers.has(w)) continue;
      if (w.next <= compacted) {
        this.watchers.delete(w);
        w.handlers.onError(compactedError(w.next, compacted));
        continue;
      }
      w.next = revision + 1;
      if (rows.length > 0) deliver(w.handlers, rows.map(toEvent));
      if (this.watchers.has(w)) w.handlers.onProgress?.(revision);
    }
    if (this.watchers.size === 0) this.timer.unref();
  }

  /** The log rows a watcher has not seen, under its prefix. */
  private rowsUnder(w: SqliteWatcher): LogRow[] {
    const cells =
      w.end === ''
        ? this.all(
            `SELECT ${LOG_COLUMNS} FROM log WHERE revision >= ? AND key >= ? ORDER BY revision, key`,
            w.next,
            w.prefix,
          )
        : this.all(
            `SELECT ${LOG_COLUMNS} FROM log WHERE revision >= ? AND key >= ? AND key < ?` +
              ` ORDER BY revision, key`,
            w.next,
            w.prefix,
            w.end,
          );
    return cells.map(logRow);
  }

  /** Deletes the keys of expired leases (one revision for all of them) and the leases. */
  private expireLeases(): void {
    this.lastLeaseCheck = Date.now();
    const now = Date.now();
    const due = this.guard('expire leases', () =>
      this.one(`SELECT 1 FROM leases WHERE expires_at <= ? LIMIT 1`, now),
    );
    if (!due) return;
    this.write('expire leases', (rev) => {
      const ids = this.all(`SELECT id FROM leases WHERE expires_at <= ?`, now).map(
        ([id]) => id as number,
      );
      return { changed: this.dropLeasesLocked(rev, ids), result: undefined };
    });
  }

  /** Removes the leases and their keys; true if any key was deleted. */
  private dropLeasesLocked(rev: number, ids: number[]): boolean {
    let changed = false;
    for (const id of ids) {
      const rows = this.all(`SELECT ${KV_COLUMNS} FROM kv WHERE lease = ?`, id).map(kvRow);
      for (const row of rows) this.deleteLocked(rev, row);
      changed ||= rows.length > 0;
      this.sql(`DELETE FROM leases WHERE id = ?`).run(id);
    }
    return changed;
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const ttlMs = Math.round(ttlSeconds * 1000);
    const info = this.guard('grant lease', () =>
      this.sql(`INSERT INTO leases (ttl_ms, expires_at) VALUES (?, ?)`).run(
        ttlMs,
        Date.now() + ttlMs,
      ),
    );
    return String(info.lastInsertRowid);
  }

  async keepAlive(lease: string): Promise<void> {
    const now = Date.now();
    const info = this.guard('keep lease alive', () =>
      this.sql(`UPDATE leases SET expires_at = ? + ttl_ms WHERE id = ? AND expires_at > ?`).run(
        now,
        Number(lease),
        now,
      ),
    );
    if (info.changes === 0) {
      throw new OperationError(`store ${this.url}: lease ${lease} not found or expired`);
    }
  }

  async revokeLease(lease: string): Promise<void> {
    this.write('revoke lease', (rev) => ({
      changed: this.dropLeasesLocked(rev, [Number(lease)]),
      result: undefined,
    }));
  }

  async compact(revision: number): Promise<void> {
    this.guard('compact', () =>
      inTransaction(this.db, 'IMMEDIATE', () => this.compactLocked(revision)),
    );
  }

  /** Removes history before `revision` (etcd's meaning); meta `compacted` is the last removed. */
  private compactLocked(revision: number): void {
    if (revision - 1 <= this.compactedRevision()) return;
    this.sql(`DELETE FROM log WHERE revision < ?`).run(revision);
    this.sql(`UPDATE meta SET value = ? WHERE name = 'compacted'`).run(revision - 1);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.watchers.clear();
    this.closed = true;
    await this.checkpoints?.stop();
    this.db.close();
  }
}

/**
 * Runs `fn` in one transaction: IMMEDIATE takes the write lock up front (so a writer never
 * fails half-way on another process's lock), DEFERRED reads one snapshot.
 */
function inTransaction<T>(db: DatabaseSync, mode: 'IMMEDIATE' | 'DEFERRED', fn: () => T): T {
  db.exec(`BEGIN ${mode}`);
  try {
    const out = fn();
    db.exec('COMMIT');
    return out;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

// SQLite's primary result codes that mean "the store cannot be used right now" (busy, locked,
// cannot open, I/O error, disk full, read-only, corrupt, not a database), not a bug of ours.
const UNAVAILABLE_CODES = new Set([5, 6, 14, 10, 13, 8, 11, 26]);

function isUnavailable(err: unknown): boolean {
  const errcode = (err as { errcode?: unknown }).errcode;
  // Extended result codes carry the primary code in their low byte.
  return typeof errcode === 'number' && UNAVAILABLE_CODES.has(errcode & 0xff);
}

function compactedError(from: number, compacted: number): StoreWatchError {
  return new StoreWatchError(
    'compacted',
    `revision ${from} is compacted (history starts at ${compacted + 1}): list again and watch from there`,
  );
}
