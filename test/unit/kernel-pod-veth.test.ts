import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostMacFor, hostVethName, podMacFor } from '../../src/kernel/pod-veth.js';

test('kernel-pod-veth: host veth names are pn + 11 hex, stable, within 15 characters', () => {
  const name = hostVethName('shop/web-0/eth0');
  assert.match(name, /^pn[0-9a-f]{11}$/);
  assert.equal(name, hostVethName('shop/web-0/eth0'));
  assert.notEqual(name, hostVethName('shop/web-1/eth0'));
});

test('kernel-pod-veth: MACs come from the pod IP and the veth name', () => {
  assert.equal(podMacFor('10.244.1.5'), '0a:58:0a:f4:01:05');
  // IPv6: the last four bytes, as OVN does.
  assert.equal(podMacFor('fd00:10:244:1::a05'), '0a:58:00:00:0a:05');
  assert.match(hostMacFor('pn0123456789a'), /^02(:[0-9a-f]{2}){5}$/);
});
