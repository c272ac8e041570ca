import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { getHeapSpaceStatistics } from 'node:v8';
import { COMPACT_EVERY, SqliteStore } from '../../src/store/sqlite.js';
import { BACKSTOP_PAGES } from '../../src/store/sqlite-checkpoints.js';
import { StoreUnavailableError } from '../../src/util/errors.js';
import type { StoreWatchError, WatchEvent } from '../../src/store/store.js';
import { withTempStore } from '../helpers/temp-store.js';
import { waitFor } from '../helpers/wait.js';

const until = <T>(what: string, check: () => T | undefined, timeoutMs = 3000): Promise<T> =>
  waitFor(what, check, timeoutMs, 5);

test('sqlite: get, create-if-absent, compare-and-swap, delete, list by prefix', async () => {
  await withTempStore(async (store) => {
    const r1 = await store.create('/a/1', 'one');
    assert.ok(r1);
    assert.equal(await store.create('/a/1', 'again'), undefined);
    const kv = (await store.get('/a/1'))!;
    assert.deepEqual(kv, { key: '/a/1', value: 'one', modRevision: r1, createRevision: r1 });
    const r2 = await store.update('/a/1', 'two', r1);
    assert.ok(r2 && r2 > r1);
    assert.equal(
      await store.update('/a/1', 'stale', r1),
      undefined,
      'stale revision is a conflict',
    );
    assert.equal((await store.get('/a/1'))!.createRevision, r1);
    await store.put('/a/2', 'x');
    await store.put('/b/1', 'y');
    const list = await store.list('/a/');
    assert.deepEqual(
      list.items.map((i) => i.key),
      ['/a/1', '/a/2'],
    );
    assert.ok(list.revision >= r2);
    assert.equal(await store.delete('/a/1', r1), false, 'delete with a stale revision');
    assert.equal(await store.delete('/a/1', r2), true);
    assert.equal(await store.delete('/a/1'), false);
    assert.equal(await store.get('/a/1'), undefined);
  });
});

test('sqlite: a watch from a revision sees every later change under its prefix, in order', async () => {
  await withTempStore(async (store) => {
    const start = (await store.list('/w/')).revision;
    await store.put('/w/a', '1');
    await store.put('/other', 'x');
    await store.put('/w/a', '2');
    const events: WatchEvent[] = [];
    const w = store.watch('/w/', start + 1, {
      onEvents: (e) => events.push(...e),
      onError: assert.fail,
    });
    await store.delete('/w/a');
    await until('3 events', () => (events.length === 3 ? true : undefined));
    assert.deepEqual(
      events.map((e) => (e.type === 'put' ? `put ${e.kv.key}=${e.kv.value}` : `delete ${e.key}`)),
      ['put /w/a=1', 'put /w/a=2', 'delete /w/a'],
    );
    assert.equal(events[1]!.prevValue, '1');
    await w.cancel();
  });
});

test('sqlite: a second connection to the file sees writes and watch events of the first', async () => {
  await withTempStore(async (store, path) => {
    const other = new SqliteStore(path, { pollMs: 10 });
    try {
      const events: WatchEvent[] = [];
      const w = other.watch('/x/', 0, { onEvents: (e) => events.push(...e), onError: assert.fail });
      const t0 = Date.now();
      await store.put('/x/k', 'v');
      await until('event', () => events[0]);
      // A poll every 10 ms brings it at once; the bound leaves room for a loaded machine.
      assert.ok(Date.now() - t0 < 1000, `event after ${Date.now() - t0} ms, not within 1 s`);
      assert.equal((await other.get('/x/k'))!.value, 'v');
      await w.cancel();
    } finally {
      await other.close();
    }
  });
});

test('sqlite: polls with nothing committed read nothing, yet a watch made since is served', async () => {
  await withTempStore(async (store) => {
    const first: WatchEvent[] = [];
    const a = store.watch('/p/', 0, { onEvents: (e) => first.push(...e), onError: assert.fail });
    await store.put('/p/k', '1');
    await until('the first watch served', () => first[0]);
    // Nothing is committed from here on: only a watch asking from an old revision is new.
    const late: WatchEvent[] = [];
    const b = store.watch('/p/', 1, { onEvents: (e) => late.push(...e), onError: assert.fail });
    await until('the late watch served from its revision', () => late[0]);
    assert.equal(late.length, 1);
    await Promise.all([a.cancel(), b.cancel()]);
  });
});

test('sqlite: reads leave no garbage in the old generation', async () => {
  // node:sqlite makes a row object in V8's old generation; rows read as arrays are young and die
  // young. 40,000 rows as objects left about 2.8 MB of old space behind; as arrays, almost none.
  await withTempStore(async (store) => {
    for (let i = 0; i < 20; i++) await store.put(`/g/${i}`, 'x'.repeat(100));
    const oldSpace = (): number =>
      getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;
    await store.list('/g/'); // the statement compiled and its code warm
    const before = oldSpace();
    for (let i = 0; i < 2000; i++) await store.list('/g/');
    const grownMB = (oldSpace() - before) / 2 ** 20;
    assert.ok(grownMB < 1, `old space grew ${grownMB.toFixed(2)} MB over 40,000 rows read`);
  });
});

test('sqlite: leases expire and their keys are deleted with watch events', async () => {
  await withTempStore(async (store) => {
    const lease = await store.grantLease(0.3);
    await store.put('/l/a', '1', { lease });
    const kept = await store.grantLease(0.3);
    await store.put('/l/b', '2', { lease: kept });
    assert.equal((await store.get('/l/a'))!.lease, lease);
    const events: WatchEvent[] = [];
    store.watch('/l/', 0, { onEvents: (e) => events.push(...e), onError: assert.fail });
    const deadline = Date.now() + 900;
    while (Date.now() < deadline) {
      await store.keepAlive(kept);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await store.get('/l/a'), undefined);
    assert.ok(await store.get('/l/b'), 'a lease kept alive keeps its key');
    await until('delete event', () => events.find((e) => e.type === 'delete' && e.key === '/l/a'));
    await assert.rejects(store.keepAlive(lease), /lease .* not found or expired/);
    await assert.rejects(store.put('/l/c', '3', { lease }), /not found or expired/);
    await store.revokeLease(kept);
    assert.equal(await store.get('/l/b'), undefined);
  });
});

test('sqlite: a watch from a compacted revision is told so', async () => {
  await withTempStore(async (store) => {
    const r1 = await store.put('/c/a', '1');
    const r2 = await store.put('/c/a', '2');
    await store.compact(r2);
    const err = await new Promise<StoreWatchError>((resolve) =>
      store.watch('/c/', r1, {
        onEvents: () => assert.fail('no events expected'),
        onError: resolve,
      }),
    );
    assert.equal(err.reason, 'compacted');
    const events: WatchEvent[] = [];
    store.watch('/c/', r2 + 1, { onEvents: (e) => events.push(...e), onError: assert.fail });
    await store.put('/c/a', '3');
    await until('event after the compaction point', () => events[0]);
  });
});

test('sqlite: revisions only go up, also across a reopen', async () => {
  await withTempStore(async (store, path) => {
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const r = await store.put(`/r/${i % 3}`, String(i));
      assert.ok(r > last);
      last = r;
    }
    await store.delete('/r/0');
    const reopened = new SqliteStore(path);
    try {
      assert.ok((await reopened.put('/r/x', 'y')) > last + 1);
    } finally {
      await reopened.close();
    }
  });
});

test('sqlite: sqlite::memory: is a private store for unit tests, watches included', async () => {
  const { openStore } = await import('../../src/store/open.js');
  const store = await openStore('sqlite::memory:');
  try {
    const events: WatchEvent[] = [];
    store.watch('/m/', 0, { onEvents: (e) => events.push(...e), onError: assert.fail });
    await store.put('/m/a', '1');
    await until('event', () => events[0]);
    assert.equal((await store.get('/m/a'))?.value, '1');
  } finally {
    await store.close();
  }
});

test('sqlite: a file that cannot be opened, or a write lock held too long, is an unavailable store', async () => {
  assert.throws(
    () => new SqliteStore('/nonexistent-podnet-dir/store.db'),
    (err: unknown) =>
      err instanceof StoreUnavailableError && /store sqlite:.*: open/.test(String(err)),
  );
  await withTempStore(async (store, path) => {
    const other = new SqliteStore(path, { busyTimeoutMs: 50 });
    // Another process in the middle of a write transaction holds the lock.
    const holder = new DatabaseSync(path);
    holder.exec('BEGIN IMMEDIATE');
    try {
      await assert.rejects(other.put('/a', '1'), StoreUnavailableError);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    // The failed write left no transaction behind: the next one goes through.
    assert.ok((await other.put('/a', '1')) > 0);
    assert.equal((await store.get('/a'))?.value, '1');
    await other.close();
  });
});

test('sqlite: history is trimmed a little at a time, never under what is retained', async () => {
  await withTempStore(async (_store, path) => {
    const retain = 250;
    const store = new SqliteStore(path, { retainRevisions: retain });
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const logRows = () => (db.prepare('SELECT count(*) AS n FROM log').get() as { n: number }).n;
      let most = 0;
      let least = Infinity;
      for (let i = 1; i <= 3 * 1000; i++) {
        const rev = await store.put(`/t/${i % 7}`, String(i));
        const rows = logRows();
        most = Math.max(most, rows);
        // Once there is as much history as is retained, it is never trimmed below that.
        if (rev > retain + 1) least = Math.min(least, rows);
      }
      // Each trim deletes at most COMPACT_EVERY rows: with trims of 1,000 rows the log grew to
      // retain + 1,000 between them, and each trim held its write for several milliseconds.
      assert.ok(most <= retain + COMPACT_EVERY, `log grew to ${most} rows`);
      assert.ok(least >= retain, `log trimmed to ${least} rows`);
    } finally {
      db.close();
      await store.close();
    }
  });
});

test('sqlite: with checkpoints in the background, writes leave the WAL to the worker', async () => {
  await withTempStore(async (_store, path) => {
    // The worker's own turns are an hour apart here: it checkpoints only when told.
    const store = new SqliteStore(path, {
      checkpointsInBackground: true,
      checkpointEveryMs: 3_600_000,
    });
    const db = new DatabaseSync(path);
    /** Pages in the WAL now (this connection's PASSIVE checkpoint copies nothing new after the worker's). */
    const walFrames = () =>
      (db.prepare('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number }).log;
    const value = 'x'.repeat(1500);
    try {
      // Past SQLite's own 1,000 pages a write would have checkpointed and restarted the WAL
      // inside the write itself; here the WAL keeps growing.
      let i = 0;
      while (statSync(`${path}-wal`).size < 1500 * 4096 && i < 20_000) {
        await store.put(`/w/${i++ % 50}`, value);
      }
      assert.ok(statSync(`${path}-wal`).size >= 1500 * 4096, `${i} writes kept the WAL small`);
      assert.ok(statSync(`${path}-wal`).size < BACKSTOP_PAGES * 4096);
      const checkpoints = store.checkpoints!;
      const before = checkpoints.made;
      checkpoints.now();
      await until('a checkpoint by the worker', () => checkpoints.made > before || undefined);
      // The worker copied the whole WAL back: the next write starts it again from the top.
      await store.put('/w/after', value);
      assert.ok(
        walFrames() < 50,
        `the WAL holds ${walFrames()} pages after the worker's checkpoint`,
      );
      const n = (db.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n;
      assert.equal(n, 51);
    } finally {
      db.close();
      await store.close();
    }
  });
});
