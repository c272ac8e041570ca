import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PUT_ATTEMPTS, resendAfterMs } from '../../src/store/etcd-resend.js';

test('etcd resend: an unconditional put cut by a dropped connection goes again, later each time', () => {
  for (const text of [
    '14 UNAVAILABLE: read ECONNRESET',
    '14 UNAVAILABLE: Connection dropped',
    'GRPCUnavailableError: 14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 172.31.1.253:2379',
    '14 UNAVAILABLE: etcdserver: no leader',
    'read ECONNRESET',
  ]) {
    const first = resendAfterMs('put', text, 1);
    const second = resendAfterMs('put', text, 2);
    assert.ok(first !== undefined && second !== undefined && second > first, text);
  }
});

test('etcd resend: a compare-and-swap is never sent again, whatever cut it', () => {
  assert.equal(resendAfterMs('compare-and-swap', '14 UNAVAILABLE: read ECONNRESET', 1), undefined);
  assert.equal(
    resendAfterMs('compare-and-swap', '14 UNAVAILABLE: Connection dropped', 1),
    undefined,
  );
});

test('etcd resend: a put stops after one attempt per member, and on final errors at once', () => {
  assert.equal(resendAfterMs('put', '14 UNAVAILABLE: read ECONNRESET', PUT_ATTEMPTS), undefined);
  for (const text of [
    '4 DEADLINE_EXCEEDED: Deadline exceeded',
    '5 NOT_FOUND: etcdserver: requested lease not found',
    '3 INVALID_ARGUMENT: etcdserver: request is too large',
    '1 CANCELLED: Call cancelled',
  ]) {
    assert.equal(resendAfterMs('put', text, 1), undefined, text);
  }
});
