// A 3-member etcd cluster on loopback: one member down loses no acknowledged write and the
// watch keeps flowing; two down and writes fail with "store unavailable" within the stated
// timeout (never a hang); a member back and writes succeed again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open.js';
import type { Store, WatchEvent } from '../../src/store/store.js';
import { StoreUnavailableError } from '../../src/util/errors.js';
import { retrying, startEtcd, type EtcdCluster } from '../helpers/etcd.js';

/** The stated bound for one store call in this test (the default is ETCD_TIMEOUT_MS, 5 s). */
const TIMEOUT_MS = 2000;

/** The index of the member that serves a watch stream, from etcd's own metrics. */
async function memberWithWatcher(cluster: EtcdCluster): Promise<number> {
  for (let i = 0; i < cluster.members.length; i++) {
    const text = await (await fetch(`${cluster.members[i]!.clientUrl}/metrics`)).text();
    const m = /^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(text);
    if (m && Number(m[1]) > 0) return i;
  }
  throw new Error('no member reports a watcher');
}

test('etcd cluster: survives one member down, fails fast without quorum, recovers', async () => {
  const cluster = await startEtcd(3);
  let store: Store | undefined;
  try {
    store = await openStore(`${cluster.storeUrl}?timeout=${TIMEOUT_MS}`);
    const s = store;
    const prefix = `/cluster/${process.pid}/`;
    const start = (await s.list(prefix)).revision;
    const seen: string[] = [];
    const revisions: number[] = [];
    const watchErrors: string[] = [];
    const w = s.watch(prefix, start + 1, {
      onEvents: (es: WatchEvent[]) =>
        es.forEach((e) => {
          if (e.type !== 'put') return;
          seen.push(e.kv.value);
          revisions.push(e.kv.modRevision);
        }),
      onError: (e) => watchErrors.push(e.message),
    });

    // Writes that were acknowledged must all survive; failed ones may or may not have landed.
    const acked: string[] = [];
    let n = 0;
    const writeSome = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const v = String(n++);
        try {
          await s.put(`${prefix}k${v}`, v);
          acked.push(v);
        } catch (err) {
          assert.ok(err instanceof StoreUnavailableError, String(err));
        }
      }
    };

    await writeSome(50);
    // Kill the member the watch stream is on, so that the watch has to move to another one.
    const victim = await memberWithWatcher(cluster);
    await cluster.kill(victim);
    await writeSome(100);
    const afterOneDown = acked.length;
    assert.ok(
      afterOneDown >= 140,
      `most writes with one member down succeed (${afterOneDown}/150)`,
    );
    const deadline = Date.now() + 10_000;
    while (acked.some((v) => !seen.includes(v)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      acked.filter((v) => !seen.includes(v)),
      [],
      'the watch saw every acknowledged write with one member down',
    );
    const stored = new Set((await s.list(prefix)).items.map((kv) => kv.value));
    assert.deepEqual(
      acked.filter((v) => !stored.has(v)),
      [],
      'no acknowledged write is lost',
    );

    // Two members down: no quorum. Writes fail with a clear error within the timeout.
    const second = victim === 0 ? 1 : 0;
    await cluster.kill(second);
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now();
      await assert.rejects(s.put(`${prefix}no-quorum`, `attempt-${i}`), (err: Error) => {
        assert.ok(err instanceof StoreUnavailableError, `${err.name}: ${err.message}`);
        assert.match(err.message, /store unavailable|no answer within/);
        return true;
      });
      const took = Date.now() - t0;
      assert.ok(took <= TIMEOUT_MS + 1000, `failed after ${took} ms, bound ${TIMEOUT_MS} ms`);
    }

    // A member comes back: quorum again, writes succeed.
    await cluster.start(second);
    await retrying(() => s.put(`${prefix}back`, 'yes'), 20_000);
    assert.equal((await s.get(`${prefix}back`))?.value, 'yes');
    const final = new Set((await s.list(prefix)).items.map((kv) => kv.value));
    assert.deepEqual(
      acked.filter((v) => !final.has(v)),
      [],
      'acknowledged writes survive the outage',
    );
    const deadline2 = Date.now() + 10_000;
    while (!seen.includes('yes') && Date.now() < deadline2) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(seen.includes('yes'), 'the watch flows again after quorum returns');
    assert.ok(
      revisions.every((r, i) => i === 0 || r > revisions[i - 1]!),
      'events in revision order, none delivered twice',
    );
    await w.cancel();
  } finally {
    await store?.close();
    await cluster.stop();
  }
});
