import { test } from 'node:test';
import assert from 'node:assert/strict';
import { phaseClock } from '../../src/lab/phase-clock.js';

test('phase clock: each phase is timed from the end of the one before, and the summary names them all', () => {
  const times = [1000, 1250, 1250, 4000];
  const clock = phaseClock(() => times.shift()!);
  assert.deepEqual(clock.end('topology'), { phase: 'topology', ms: 250, sinceStartMs: 250 });
  assert.deepEqual(clock.end('store'), { phase: 'store', ms: 0, sinceStartMs: 250 });
  assert.deepEqual(clock.end('agents ready'), {
    phase: 'agents ready',
    ms: 2750,
    sinceStartMs: 3000,
  });
  assert.deepEqual(clock.summary(), { topology: 250, store: 0, 'agents ready': 2750 });
});
