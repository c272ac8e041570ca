import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  hostMacFor,
  hostVethName,
  podMacFor,
  hostSideCommands,
  vethAddCommand,
} from '../../src/kernel/pod-veth.js';

const veth = {
  hostVeth: 'pn0123456789a',
  hostMac: '02:01:02:03:04:05',
  netns: '/run/netns/pod',
  ifname: 'eth0',
  podMac: '0a:58:0a:f4:01:05',
  podIP: '10.244.1.5',
  gateway: '10.244.1.1',
  mtu: 1450,
};

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

test('kernel-pod-veth: the pair, and the host side marked proto 80', () => {
  assert.equal(
    vethAddCommand(veth),
    'link add pn0123456789a mtu 1450 address 02:01:02:03:04:05 type veth peer name eth0 mtu 1450 address 0a:58:0a:f4:01:05 netns /run/netns/pod',
  );
  assert.deepEqual(hostSideCommands(veth), [
    'link set pn0123456789a up',
    'addr add 10.244.1.1/32 dev pn0123456789a',
    'route add 10.244.1.5/32 dev pn0123456789a proto 80 scope link',
  ]);
});

test('pod veth: a dual-stack pod gets the link-local gateway, its /128 and a permanent neighbour on the host end', () => {
  assert.deepEqual(hostSideCommands({ ...veth, podIPv6: 'fd00:10:244:1::5' }).slice(3), [
    'addr add fe80::1/64 dev pn0123456789a nodad',
    'route add fd00:10:244:1::5/128 dev pn0123456789a proto 80',
    'neigh replace fd00:10:244:1::5 lladdr 0a:58:0a:f4:01:05 dev pn0123456789a nud permanent',
  ]);
});
