import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podMTU } from '../../src/routing/mtu.js';

test('routing: pod MTU leaves room for the backend encapsulation', () => {
  assert.equal(podMTU('host-gw', 1500), 1500);
  assert.equal(podMTU('vxlan', 1500), 1450);
  assert.equal(podMTU('ipip', 1500), 1480);
  assert.equal(podMTU('auto', 1500), 1450);
});
