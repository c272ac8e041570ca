// The long-lived ip session: groups finish in order, each with exactly its own failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpBatchError, IpSession } from '../../src/kernel/ip-session.js';

test('kernel-ip-session: concurrent groups each get exactly their own failures', async () => {
  const ip = new IpSession();
  try {
    const results = await Promise.allSettled([
      ip.run(['link show dev lo']),
      ip.run(['link show dev lo', 'link show dev pntnosuch0', 'link show dev lo']),
      ip.run([]),
      ip.run(['link show dev pntnosuch1']),
      ip.run(['link show dev lo']),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
    );
    const second = (results[1] as PromiseRejectedResult).reason as IpBatchError;
    assert.ok(second instanceof IpBatchError);
    assert.deepEqual(
      second.failures.map((f) => f.command),
      ['link show dev pntnosuch0'],
    );
    assert.match(second.failures[0]!.message, /pntnosuch0.*does not exist/);
    const fourth = (results[3] as PromiseRejectedResult).reason as IpBatchError;
    assert.deepEqual(
      fourth.failures.map((f) => f.command),
      ['link show dev pntnosuch1'],
    );
  } finally {
    ip.close();
  }
});
