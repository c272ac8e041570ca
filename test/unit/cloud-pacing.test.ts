import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AWS_BUCKETS, TokenBucket, paceBelow, type Clock } from '../../src/cloud/pacing.js';

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

/**
 * Route calls paced by `pacing`, each arriving at AWS's bucket 0-150 ms after it left (the
 * burst, sent at once, the latest: its connections are being set up): how many AWS refuses.
 */
async function throttledOnArrival(pacing: { burst: number; perSecond: number }): Promise<number> {
  let now = 0;
  const clock: Clock = { now: () => now, sleep: async (ms) => void (now += ms) };
  const sender = new TokenBucket(pacing.burst, pacing.perSecond, clock);
  const aws = new TokenBucket(AWS_BUCKETS.routes.burst, AWS_BUCKETS.routes.perSecond, clock);
  const sent: number[] = [];
  for (let i = 0; i < 200; i++) {
    await sender.take();
    sent.push(now);
  }
  const arrivals = sent
    .map((t, i) => t + (i < pacing.burst ? 150 : (i * 37) % 150))
    .sort((a, b) => a - b);
  let refused = 0;
  for (const t of arrivals) {
    now = t;
    if (!aws.tryTake()) refused++;
  }
  return refused;
}

test('cloud: route calls paced a token below AWS are never refused, however late each arrives', async () => {
  assert.ok((await throttledOnArrival(AWS_BUCKETS.routes)) > 0, 'the same bucket is refused');
  assert.equal(await throttledOnArrival(paceBelow(AWS_BUCKETS.routes)), 0);
});
