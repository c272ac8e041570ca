// API watchers share one store watch per prefix: each sees every event from its own revision
// on, exactly once, including a watcher that starts behind the shared feed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedWatches } from '../../src/apiserver/shared-watch.js';
import type { Store, WatchEvent } from '../../src/store/store.js';
import { withTempStore } from '../helpers/temp-store.js';

const revisionOf = (e: WatchEvent) => (e.type === 'put' ? e.kv.modRevision : e.modRevision);

/** A watcher recording the revisions it is given, and a way to wait for one. */
function recorder() {
  const seen: number[] = [];
  let wake = () => {};
  return {
    seen,
    handlers: {
      onEvents: (es: WatchEvent[]) => {
        seen.push(...es.map(revisionOf));
        wake();
      },
      onError: (err: Error) => assert.fail(err),
    },
    async until(revision: number) {
      while (!seen.includes(revision)) await new Promise<void>((r) => (wake = r));
    },
  };
}

test('shared watch: one store watch for many watchers, late ones replayed from their revision', async () => {
  await withTempStore(async (sqlite) => {
    const opened: number[] = [];
    const store: Store = Object.create(sqlite, {
      watch: {
        value: (...args: Parameters<Store['watch']>) => (
          opened.push(args[1]),
          sqlite.watch(...args)
        ),
      },
    });
    const watches = new SharedWatches(store);
    const r1 = await sqlite.put('/p/a', '1');
    const early = recorder();
    const first = watches.watch('/p/', r1 + 1, early.handlers);
    const r2 = await sqlite.put('/p/a', '2');
    const r3 = await sqlite.put('/p/b', '3');
    await sqlite.put('/q/other', 'x');
    await early.until(r3);
    const late = recorder();
    const second = watches.watch('/p/', r2 + 1, late.handlers);
    const r4 = await sqlite.put('/p/a', '4');
    await Promise.all([early.until(r4), late.until(r4)]);
    assert.deepEqual(early.seen, [r2, r3, r4]);
    assert.deepEqual(late.seen, [r3, r4]);
    assert.deepEqual(opened, [r1 + 1], 'one store watch');

    // Behind what the feed has kept: a store watch of its own.
    const behind = recorder();
    const third = watches.watch('/p/', r1, behind.handlers);
    await behind.until(r4);
    assert.deepEqual(behind.seen, [r1, r2, r3, r4]);
    assert.deepEqual(opened, [r1 + 1, r1]);
    for (const w of [first, second, third]) await w.cancel();
  });
});
