import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podMTU } from '../../src/routing/mtu.js';

test('routing: pod MTU leaves room for the backend encapsulation', () => {
  assert.equal(podMTU('host-gw', 1500), 1500);
  assert.equal(podMTU('vxlan', 1500), 1450);
  assert.equal(podMTU('ipip', 1500), 1480);
  assert.equal(podMTU('auto', 1500), 1450);
});

test('routing: auto tunnelling through IP-in-IP leaves pods 20 bytes, not 50', () => {
  assert.equal(podMTU('auto', 1500, undefined, 'ipip'), 1480);
  assert.equal(podMTU('auto', 1500, undefined, 'vxlan'), 1450);
  // Other backends ignore the setting; encryption still wins.
  assert.equal(podMTU('vxlan', 1500, undefined, 'ipip'), 1450);
  assert.equal(podMTU('auto', 1500, 'wireguard', 'ipip'), 1440);
});
