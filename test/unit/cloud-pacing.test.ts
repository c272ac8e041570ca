import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, type Clock } from '../../src/cloud/pacing.js';

test('cloud: the token bucket lets a burst through, then paces at its rate', async () => {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async (ms) => void (now += ms) };
  const bucket = new TokenBucket(50, 5, clock);
  for (let i = 0; i < 50; i++) await bucket.take();
  assert.equal(now, 0);
  for (let i = 0; i < 450; i++) await bucket.take();
  // 450 more at 5/s: AWS's floor for 500 routes, 90 s.
  assert.equal(Math.round(now / 1000), 90);
});
