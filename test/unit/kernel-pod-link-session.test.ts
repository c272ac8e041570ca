// What the agent asks podnet-pod-link for one pod end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podLinkIPv6Request, podLinkRequest } from '../../src/kernel/pod-link-session.js';

test('pod link: one request line of namespace, interface, pod address and gateway', () => {
  assert.equal(
    podLinkRequest({
      netns: '/var/run/netns/cni-1234',
      ifname: 'eth0',
      podIP: '10.244.1.5',
      gateway: '10.244.1.1',
    }),
    '/var/run/netns/cni-1234 eth0 10.244.1.5 10.244.1.1\n',
  );
});

test('pod link: a field with whitespace is refused, not sent as a shifted request', () => {
  assert.throws(
    () =>
      podLinkRequest({
        netns: '/run/netns/a b',
        ifname: 'eth0',
        podIP: '10.244.1.5',
        gateway: '10.244.1.1',
      }),
    /cannot configure a pod end named "\/run\/netns\/a b"/,
  );
});

test('pod link: an IPv6 request is marked as one and carries the gateway MAC', () => {
  assert.equal(
    podLinkIPv6Request({
      netns: '/var/run/netns/cni-1234',
      ifname: 'eth0',
      podIP: 'fd00:10:244:1::5',
      gateway: 'fe80::1',
      gatewayMac: '02:01:02:03:04:05',
    }),
    'ipv6 /var/run/netns/cni-1234 eth0 fd00:10:244:1::5 fe80::1 02:01:02:03:04:05\n',
  );
});
