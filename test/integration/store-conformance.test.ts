// One conformance suite, run unchanged against both backends: SQLite (a temp file) and a real
// etcd (Debian's etcd-server on free loopback ports, temp data dir, killed in finally).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { Store, StoreWatchError, WatchEvent } from '../../src/store/store.js';
import { retrying, startEtcd, type EtcdCluster } from '../helpers/etcd.js';

interface Backend {
  name: string;
  setUp(): Promise<void>;
  open(): Promise<Store>;
  /** Breaks the connection under a running watch and brings the store back (etcd: restart). */
  interrupt?(): Promise<void>;
  tearDown(): Promise<void>;
}

function sqliteBackend(): Backend {
  let dir = '';
  return {
    name: 'sqlite',
    setUp: async () => {
      dir = mkdtempSync(join(tmpdir(), 'podnet-conf-'));
    },
    open: () => openStore(`sqlite:${join(dir, 'store.db')}`),
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function etcdBackend(): Backend {
  let cluster: EtcdCluster | undefined;
  return {
    name: 'etcd',
    setUp: async () => {
      cluster = await startEtcd(1);
    },
    open: () => openStore(cluster!.storeUrl),
    interrupt: async () => {
      await cluster!.kill(0);
      await cluster!.start(0);
    },
    tearDown: async () => cluster?.stop(),
  };
}

let seq = 0;
const uniquePrefix = (what: string): string => `/conformance/${process.pid}-${++seq}-${what}/`;

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function show(e: WatchEvent): string {
  return e.type === 'put' ? `put ${e.kv.key}=${e.kv.value}` : `delete ${e.key}`;
}

function revisionOf(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.modRevision : e.modRevision;
}

for (const backend of [sqliteBackend(), etcdBackend()]) {
  describe(`store conformance: ${backend.name}`, () => {
    let store: Store;
    before(async () => {
      await backend.setUp();
      store = await backend.open();
    });
    after(async () => {
      await store?.close();
      await backend.tearDown();
    });

    test('compare-and-swap conflicts are detected', async () => {
      const p = uniquePrefix('cas');
      const r1 = await store.create(`${p}k`, 'a');
      assert.ok(r1 !== undefined);
      assert.equal(await store.create(`${p}k`, 'b'), undefined, 'create of an existing key');
      assert.equal(await store.update(`${p}k`, 'b', r1 - 1), undefined, 'stale revision');
      assert.equal(
        await store.update(`${p}absent`, 'b', r1),
        undefined,
        'absent key, revision given',
      );
      // Two writers with the same expected revision: exactly one wins.
      const results = await Promise.all([
        store.update(`${p}k`, 'x', r1),
        store.update(`${p}k`, 'y', r1),
      ]);
      assert.equal(results.filter((r) => r !== undefined).length, 1);
      const kv = (await store.get(`${p}k`))!;
      assert.equal(kv.value, results[0] !== undefined ? 'x' : 'y');
      assert.equal(kv.createRevision, r1);
      // A conflict hands back the key as it is now, read in the same step.
      const swap = await store.compareAndSwap(`${p}k`, 'z', r1);
      assert.deepEqual(swap, { ok: false, current: kv });
      assert.deepEqual(await store.compareAndSwap(`${p}absent`, 'z', r1), {
        ok: false,
        current: undefined,
      });
      const won = await store.compareAndSwap(`${p}k`, 'z', kv.modRevision);
      assert.ok(won.ok && won.revision > kv.modRevision);
      assert.equal(await store.delete(`${p}k`, r1), false, 'delete with a stale revision');
      assert.equal(await store.delete(`${p}k`, won.ok ? won.revision : 0), true);
      assert.equal(await store.get(`${p}k`), undefined);
      assert.ok(await store.update(`${p}k`, 'again', 0), 'revision 0 means must be absent');
    });

    test('a write made only while the keys it was decided from are unchanged', async () => {
      const p = uniquePrefix('unchanged');
      const read = await store.put(`${p}read`, 'v1');
      const absent = { key: `${p}absent`, modRevision: 0 };
      const made = await store.compareAndSwap(`${p}k`, 'a', 0, {
        unchanged: [{ key: `${p}read`, modRevision: read }, absent],
      });
      assert.ok(made.ok, 'every key as read: written');
      const moved = await store.put(`${p}read`, 'v2');
      const stale = await store.compareAndSwap(`${p}k`, 'b', made.revision, {
        unchanged: [{ key: `${p}read`, modRevision: read }],
      });
      const kv = await store.get(`${p}k`);
      assert.deepEqual(stale, { ok: false, current: kv, staleRead: true });
      assert.equal(kv?.value, 'a', 'nothing written');
      await store.put(absent.key, 'now there');
      const appeared = await store.compareAndSwap(`${p}k`, 'b', made.revision, {
        unchanged: [absent],
      });
      assert.equal(appeared.ok === false && appeared.staleRead, true, 'a key read as absent');
      // The written key changed itself: a conflict as any other, not a stale read.
      assert.deepEqual(
        await store.compareAndSwap(`${p}k`, 'b', read, {
          unchanged: [{ key: `${p}read`, modRevision: moved }],
        }),
        { ok: false, current: kv },
      );
    });

    test('the current revision, and a watch told on request that it has seen up to it', async () => {
      const p = uniquePrefix('progress');
      const start = (await store.list(p)).revision;
      assert.equal(await store.revision(), start);
      const progress: number[] = [];
      const watch = store.watch(p, start + 1, {
        onEvents: () => undefined,
        onError: (err) => assert.fail(err),
        onProgress: (revision) => progress.push(revision),
      });
      try {
        // A write outside the prefix moves the store on: the watch has nothing to deliver,
        // only progress to report.
        const elsewhere = await store.put(`${uniquePrefix('elsewhere')}k`, 'v');
        assert.equal(await store.revision(), elsewhere);
        await until('progress up to the write elsewhere', () => {
          watch.requestProgress?.();
          return progress.some((r) => r >= elsewhere);
        });
      } finally {
        await watch.cancel();
      }
    });

    test('watch delivers every change in order, exactly once, across a reconnect', async () => {
      const p = uniquePrefix('watch');
      const expected: string[] = [];
      const write = async (i: number): Promise<void> => {
        const key = `${p}k${i % 4}`;
        if (i % 5 === 4) {
          if (await retrying(() => store.delete(key))) expected.push(`delete ${key}`);
        } else {
          await retrying(() => store.put(key, String(i)));
          expected.push(`put ${key}=${i}`);
        }
      };
      const start = (await store.list(p)).revision;
      await store.put('/conformance/outside', 'not under the prefix');
      const got: WatchEvent[] = [];
      const failures: StoreWatchError[] = [];
      const handlers = {
        onEvents: (e: WatchEvent[]) => got.push(...e),
        onError: (e: StoreWatchError) => failures.push(e),
      };
      const w1 = store.watch(p, start + 1, handlers);
      for (let i = 0; i < 30; i++) await write(i);
      await until('first events', () => got.length >= 10);
      // The caller's reconnect: a new watch from the revision after the last one seen.
      await w1.cancel();
      const last = revisionOf(got[got.length - 1]!);
      const w2 = store.watch(p, last + 1, handlers);
      for (let i = 30; i < 60; i++) await write(i);
      // The store's own reconnect: the server goes away under the watch and comes back.
      if (backend.interrupt) await backend.interrupt();
      for (let i = 60; i < 90; i++) await write(i);
      await until(`${expected.length} events`, () => got.length >= expected.length);
      await new Promise((r) => setTimeout(r, 200)); // nothing more may arrive
      await w2.cancel();
      assert.deepEqual(failures, []);
      assert.deepEqual(got.map(show), expected);
      const revs = got.map(revisionOf);
      assert.ok(
        revs.every((r, i) => i === 0 || r > revs[i - 1]!),
        'revisions strictly increase',
      );
    });

    test('leases expire and their keys disappear (with delete events)', async () => {
      const p = uniquePrefix('lease');
      const short = await store.grantLease(1);
      const kept = await store.grantLease(1);
      await store.put(`${p}a`, '1', { lease: short });
      await store.put(`${p}b`, '2', { lease: short });
      await store.put(`${p}c`, '3', { lease: kept });
      await store.put(`${p}d`, '4');
      assert.equal((await store.get(`${p}a`))!.lease, short);
      const deletes: string[] = [];
      const w = store.watch(p, 0, {
        onEvents: (es) => es.forEach((e) => e.type === 'delete' && deletes.push(e.key)),
        onError: (e) => assert.fail(e.message),
      });
      const t0 = Date.now();
      const gone = async () =>
        (await store.get(`${p}a`)) === undefined && (await store.get(`${p}b`)) === undefined;
      while (!(await gone())) {
        assert.ok(Date.now() - t0 < 10_000, 'keys of an expired lease are gone within 10 s');
        await store.keepAlive(kept);
        await new Promise((r) => setTimeout(r, 200));
      }
      await until('delete events', () => deletes.length >= 2);
      assert.deepEqual(deletes.sort(), [`${p}a`, `${p}b`]);
      assert.ok(await store.get(`${p}c`), 'a lease kept alive keeps its key');
      assert.ok(await store.get(`${p}d`), 'a key without a lease stays');
      await assert.rejects(store.keepAlive(short), /not found or expired/);
      await store.revokeLease(kept);
      assert.equal(await store.get(`${p}c`), undefined, 'revoking a lease deletes its keys');
      await w.cancel();
    });

    test('revisions never go backwards', async () => {
      const p = uniquePrefix('rev');
      let last = (await store.list(p)).revision;
      for (let i = 0; i < 20; i++) {
        const r =
          i % 3 === 2
            ? (await store.delete(`${p}k${i - 1}`), (await store.list(p)).revision)
            : await store.put(`${p}k${i}`, String(i));
        assert.ok(r >= last, `revision ${r} after ${last}`);
        last = r;
      }
      const list = await store.list(p);
      assert.ok(list.revision >= last);
      for (const kv of list.items) assert.ok(kv.modRevision <= list.revision);
      if (backend.interrupt) await backend.interrupt();
      const r = await retrying(() => store.put(`${p}after`, 'x'));
      assert.ok(r > last, 'a write after a restart gets a higher revision');
    });

    test('a watch from a compacted revision is told so; the next revision still works', async () => {
      const p = uniquePrefix('compact');
      const r1 = await store.put(`${p}k`, '1');
      const r2 = await store.put(`${p}k`, '2');
      await store.compact(r2);
      const err = await new Promise<StoreWatchError>((resolve) => {
        store.watch(p, r1, {
          onEvents: () => assert.fail('no events from a compacted revision'),
          onError: resolve,
        });
      });
      assert.equal(err.reason, 'compacted');
      assert.match(err.message, /compacted/);
      const got: WatchEvent[] = [];
      const w = store.watch(p, r2, {
        onEvents: (e) => got.push(...e),
        onError: (e) => assert.fail(e.message),
      });
      await store.put(`${p}k`, '3');
      await until('events from the kept revision', () => got.length >= 2);
      assert.deepEqual(got.map(show), [`put ${p}k=2`, `put ${p}k=3`]);
      await w.cancel();
    });
  });
}
