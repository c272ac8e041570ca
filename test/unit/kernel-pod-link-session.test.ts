// What the agent asks podnet-pod-link: one pod's veth, and the GRO of many.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groStatesFromAnswer } from '../../src/kernel/link-features.js';
import { podLinkRequest } from '../../src/kernel/pod-link-session.js';

const veth = {
  hostVeth: 'pn0123456789a',
  hostMac: '02:01:02:03:04:05',
  netns: '/var/run/netns/cni-1234',
  ifname: 'eth0',
  podMac: '0a:58:0a:f4:01:05',
  podIP: '10.244.1.5',
  gateway: '10.244.1.1',
  mtu: 1450,
};

test('pod link: one request line carries both ends: namespace, names, MTU, MACs, addresses', () => {
  assert.equal(
    podLinkRequest(veth),
    '/var/run/netns/cni-1234 eth0 1450 pn0123456789a 02:01:02:03:04:05 0a:58:0a:f4:01:05 10.244.1.5 10.244.1.1\n',
  );
});

test('pod link: a dual-stack pod adds its IPv6 address and the link-local gateway', () => {
  assert.equal(
    podLinkRequest({ ...veth, podIPv6: 'fd00:10:244:1::5' }),
    '/var/run/netns/cni-1234 eth0 1450 pn0123456789a 02:01:02:03:04:05 0a:58:0a:f4:01:05 10.244.1.5 10.244.1.1 fd00:10:244:1::5 fe80::1\n',
  );
});

test('pod link: a field with whitespace is refused, not sent as a shifted request', () => {
  assert.throws(
    () => podLinkRequest({ ...veth, netns: '/run/netns/a b' }),
    /cannot wire a pod veth with the field "\/run\/netns\/a b"/,
  );
});

test('pod link: an IPv6-only pod sends `-` for the IPv4 pair and its IPv6 address alone', () => {
  assert.equal(
    podLinkRequest({
      ...veth,
      podIP: undefined,
      gateway: undefined,
      podIPv6: 'fd00:10:244:1::5',
    }),
    '/var/run/netns/cni-1234 eth0 1450 pn0123456789a 02:01:02:03:04:05 0a:58:0a:f4:01:05 - - fd00:10:244:1::5 fe80::1\n',
  );
});

test('pod link: a GRO read answers one state per device asked, a missing one left out', () => {
  const states = groStatesFromAnswer('ok on off -\n', ['pna', 'pnb', 'pnc']);
  assert.deepEqual(
    [...states],
    [
      ['pna', { active: true, fixed: false }],
      ['pnb', { active: false, fixed: false }],
    ],
  );
  assert.throws(() => groStatesFromAnswer('ok on\n', ['pna', 'pnb']), /answered "ok on"/);
  assert.throws(() => groStatesFromAnswer('error bad\n', ['pna']), /answered "error bad"/);
});
