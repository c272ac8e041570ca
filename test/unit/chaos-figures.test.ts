import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChaosRequest } from '../helpers/chaos-client.js';
import { faultFigures, longestGap, recovery } from '../helpers/chaos-figures.js';

const ok = (start: number, ms = 10): ChaosRequest => ({ start, ms, lookupMs: 1, ok: true });
const failed = (start: number, stage: 'lookup' | 'http' = 'http'): ChaosRequest => ({
  start,
  ms: 3000,
  lookupMs: stage === 'lookup' ? 3000 : 1,
  ok: false,
  stage,
  error: 'ETIMEDOUT',
});

test('the longest gap counts from the window start to the window end', () => {
  const w = { from: 0, to: 1000, clearedAt: 0 };
  assert.equal(longestGap([ok(100), ok(200)], w), 790);
  assert.equal(longestGap([ok(500, 100)], w), 600);
  assert.equal(longestGap([], w), 1000);
});

test('recovery counts from the fault cleared to the first answer after the last failure', () => {
  assert.equal(recovery([ok(1000, 10), ok(1050)], 1000), 10);
  assert.equal(recovery([failed(900), ok(1000, 20), failed(1100), ok(1200, 300)], 1000), 500);
  // A request started before the fault cleared waits on the client's own timers: left out.
  assert.equal(recovery([failed(900), ok(950, 3000), ok(1000, 10)], 1000), 10);
  assert.equal(recovery([ok(1000), failed(1100)], 1000), Number.POSITIVE_INFINITY);
});

test('figures add up over clients and keep only requests started in the window', () => {
  const byClient = new Map([
    ['node-1', [ok(-50), ok(100), failed(200, 'lookup'), ok(300, 2000)]],
    ['node-2', [ok(100, 6000), failed(5000)]],
  ]);
  const f = faultFigures(byClient, { from: 0, to: 4000, clearedAt: 0 });
  assert.deepEqual(f, {
    ok: 3,
    failed: 1,
    failedLookups: 1,
    slowestLookupMs: 3000,
    gapMs: 6100,
    recoveryMs: 6100,
  });
});
