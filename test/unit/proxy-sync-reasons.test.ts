import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeReasons } from '../../src/proxy/syncer.js';

test('proxy sync reasons: the metric label names only triggers, whatever objects changed', () => {
  const reasons = new Set<string>();
  for (let i = 0; i < 500; i++) reasons.add(`endpointslice web/web-${i} modified`);
  reasons.add('service web/web added');
  reasons.add('start');
  const { trigger } = describeReasons(reasons);
  assert.equal(trigger, 'endpointslice,service,start');
});

test('proxy sync reasons: the log line names ten and counts the rest', () => {
  const reasons = new Set(Array.from({ length: 25 }, (_, i) => `service ns/s${i} added`));
  const { reason } = describeReasons(reasons);
  assert.equal(reason.split(',').length, 10);
  assert.match(reason, / and 15 more$/);
});

test('proxy sync reasons: none is a periodic resync', () => {
  assert.deepEqual(describeReasons(new Set()), { reason: 'resync', trigger: 'resync' });
});
