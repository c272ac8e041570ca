import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry } from 'prom-client';
import {
  HEAP_AFTER_GC_METRIC,
  HEAP_SPACE_SIZE_METRIC,
  registerHeapAfterGc,
  registerHeapSpaces,
} from '../../src/util/heap-metrics.js';
import { waitFor } from '../helpers/wait.js';

test('heap metrics: a major collection sets the heap left in use after it', async () => {
  const registry = new Registry();
  const stop = registerHeapAfterGc(registry);
  try {
    const value = async (): Promise<number> =>
      (await registry.getSingleMetric(HEAP_AFTER_GC_METRIC)!.get()).values[0]?.value ?? 0;
    assert.equal(await value(), 0, 'nothing before a major collection');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    let after = 0;
    await waitFor(
      'the collection observed',
      () => {
        void value().then((v) => (after = v));
        return after > 0;
      },
      5000,
      20,
    );
    assert.ok(after < process.memoryUsage().rss, `${after} bytes is a heap, not the whole process`);
  } finally {
    stop();
  }
});

test('heap metrics: the committed size of the young and old spaces, by their short names', async () => {
  const registry = new Registry();
  registerHeapSpaces(registry);
  const text = await registry.metrics();
  for (const space of ['new', 'old']) {
    const m = new RegExp(`^${HEAP_SPACE_SIZE_METRIC}\\{space="${space}"\\} (\\d+)$`, 'm').exec(
      text,
    );
    assert.ok(m && Number(m[1]) > 0, `${space}: ${text}`);
  }
});
