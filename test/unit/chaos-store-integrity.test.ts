import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lostLeases, lostWrites } from '../../test/helpers/store-integrity.js';

test('chaos store integrity: an acknowledged write whose key holds an older value is lost', () => {
  const writes = [
    { seq: 0, start: 1000, ms: 5, ok: true },
    { seq: 1, start: 1100, ms: 5, ok: true },
    { seq: 100, start: 2000, ms: 5, ok: true },
    // Failed: it may or may not have landed, so it is never counted as lost.
    { seq: 2, start: 1200, ms: 5000, ok: false },
  ];
  const stored = new Map([
    ['/w/0', '2000'],
    ['/w/1', '1100'],
  ]);
  assert.deepEqual(lostWrites(writes, stored, '/w/'), []);
  stored.set('/w/0', '1000');
  assert.deepEqual(lostWrites(writes, stored, '/w/'), ['/w/0']);
  stored.delete('/w/1');
  assert.deepEqual(lostWrites(writes, stored, '/w/'), ['/w/0', '/w/1']);
});

test('chaos store integrity: a node back with another subnet, or a lease key gone, is a lost lease', () => {
  const before = {
    subnets: new Map([
      ['node-1', '10.244.1.0/24'],
      ['node-2', '10.244.2.0/24'],
    ]),
    leaseKeys: new Set(['/l/1', '/l/2']),
  };
  assert.deepEqual(lostLeases(before, before), []);
  const after = {
    subnets: new Map([
      ['node-1', '10.244.1.0/24'],
      ['node-2', '10.244.3.0/24'],
    ]),
    leaseKeys: new Set(['/l/1', '/l/3']),
  };
  assert.deepEqual(lostLeases(before, after), [
    'node-2: subnet 10.244.2.0/24 → 10.244.3.0/24',
    'lease /l/2',
  ]);
});
