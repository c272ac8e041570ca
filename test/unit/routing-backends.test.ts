import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendDriver, BACKEND_NAMES } from '../../src/routing/backends/registry.js';
import type { BackendInput } from '../../src/routing/desired.js';
import { hostFromNode, splitHosts } from '../../src/routing/peers.js';
import { isMac, vtepMacFrom } from '../../src/routing/vtep.js';
import { DataError } from '../../src/util/errors.js';
import { onLink } from '../../src/routing/backends/hostgw.js';
import { makeNode } from '../helpers/routing-nodes.js';

const underlay = { dev: 'eth0', address: '172.31.1.1', prefixLength: 24, mtu: 1500 };
const nodes = [
  makeNode('node-1', '10.244.1.0/24', '172.31.1.1', { zone: 'z1', mac: '02:00:00:00:00:01' }),
  makeNode('node-2', '10.244.2.0/24', '172.31.1.2', { zone: 'z1', mac: '02:00:00:00:00:02' }),
  makeNode('node-3', '10.244.3.0/24', '172.31.2.1', { zone: 'z2', mac: '02:00:00:00:00:03' }),
];

function input(): BackendInput {
  const { self, peers } = splitHosts(nodes, 'node-1');
  return { self: self!, peers, underlay, vtepMac: '02:00:00:00:00:01' };
}

test('routing: backends are found by name; an unknown one names the valid ones', () => {
  assert.deepEqual(BACKEND_NAMES, ['host-gw', 'vxlan', 'ipip', 'auto', 'cloud', 'wireguard']);
  assert.equal(backendDriver('vxlan').name, 'vxlan');
  assert.throws(() => backendDriver('geneve', '--backend'), {
    message:
      '--backend geneve: unknown backend (valid: host-gw, vxlan, ipip, auto, cloud, wireguard)',
  });
});

test('routing: a node without pod subnet or InternalIP is not routed to yet', () => {
  const bare = makeNode('node-9', '', '172.31.1.9');
  assert.equal(hostFromNode(bare), undefined);
  const odd = makeNode('node-8', '10.244.8.7/24', '172.31.1.8', { mac: '02:AA:00:00:00:08' });
  assert.deepEqual(hostFromNode(odd), {
    name: 'node-8',
    podCIDR: '10.244.8.0/24',
    ip: '172.31.1.8',
    zone: undefined,
    vtepMac: '02:aa:00:00:00:08',
    cloudRoute: undefined,
    wireguardKey: undefined,
  });
});

test('routing: host-gw routes on-link peers via the peer and names the others', () => {
  const state = backendDriver('host-gw').desired(input());
  assert.deepEqual(state.links, []);
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: false },
  ]);
  assert.deepEqual(state.problems, [
    {
      peer: 'node-3',
      reason: "172.31.2.1 is not on-link (outside eth0's 172.31.1.1/24)",
    },
  ]);
  assert.deepEqual(state.sysctls, [
    { key: 'net.ipv4.ip_forward', value: '1' },
    { key: 'net.ipv4.conf.eth0.rp_filter', value: '2', looseRpFilter: true },
  ]);
});

test('routing: vxlan builds the flannel device and neighbour, FDB entry and route per peer', () => {
  const state = backendDriver('vxlan').desired(input());
  assert.deepEqual(state.links, [
    {
      kind: 'vxlan',
      name: 'pn-vxlan',
      vni: 1,
      port: 8472,
      local: '172.31.1.1',
      underlayDev: 'eth0',
      learning: false,
      mtu: 1450,
      mac: '02:00:00:00:00:01',
      addresses: ['10.244.1.0/32'],
    },
  ]);
  assert.deepEqual(state.neighbours, [
    { dev: 'pn-vxlan', ip: '10.244.2.0', mac: '02:00:00:00:00:02' },
    { dev: 'pn-vxlan', ip: '10.244.3.0', mac: '02:00:00:00:00:03' },
  ]);
  assert.deepEqual(state.fdb, [
    { dev: 'pn-vxlan', mac: '02:00:00:00:00:02', dst: '172.31.1.2' },
    { dev: 'pn-vxlan', mac: '02:00:00:00:00:03', dst: '172.31.2.1' },
  ]);
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'pn-vxlan', onlink: true },
    { dst: '10.244.3.0/24', gateway: '10.244.3.0', dev: 'pn-vxlan', onlink: true },
  ]);
  assert.deepEqual(state.problems, []);
  assert.ok(state.sysctls.some((s) => s.key === 'net.ipv4.conf.pn-vxlan.rp_filter'));
});

test('routing: vxlan skips a peer without a VTEP MAC and says so', () => {
  const { self, peers } = splitHosts(
    [...nodes.slice(0, 1), makeNode('node-4', '10.244.4.0/24', '172.31.1.4')],
    'node-1',
  );
  const state = backendDriver('vxlan').desired({ ...input(), self: self!, peers });
  assert.deepEqual(state.routes, []);
  assert.deepEqual(state.problems, [
    { peer: 'node-4', reason: 'has not published its VTEP MAC yet' },
  ]);
});

test('routing: ipip builds a tunnel with MTU underlay-20 and onlink routes via peer IPs', () => {
  const driver = backendDriver('ipip');
  assert.equal(driver.needs, 'ipip');
  const state = driver.desired(input());
  assert.deepEqual(state.links, [
    { kind: 'ipip', name: 'pn-ipip', local: '172.31.1.1', mtu: 1480, addresses: ['10.244.1.0/32'] },
  ]);
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'pn-ipip', onlink: true },
    { dst: '10.244.3.0/24', gateway: '172.31.2.1', dev: 'pn-ipip', onlink: true },
  ]);
  assert.deepEqual(state.neighbours, []);
});

test('routing: ipip in BPF routes each peer subnet out of the underlay via the next hop to the peer, with a route MTU 20 below', () => {
  const state = backendDriver('ipip').desired({
    ...input(),
    underlay: { ...underlay, gateway: '172.31.1.254' },
    ipipBpf: true,
  });
  assert.deepEqual(state.links, []);
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: true, mtu: 1480 },
    { dst: '10.244.3.0/24', gateway: '172.31.1.254', dev: 'eth0', onlink: true, mtu: 1480 },
  ]);
  assert.deepEqual(state.ipipTunnels, [
    { podCIDR: '10.244.2.0/24', remote: '172.31.1.2', local: '172.31.1.1' },
    { podCIDR: '10.244.3.0/24', remote: '172.31.2.1', local: '172.31.1.1' },
  ]);
  assert.deepEqual(state.problems, []);
});

test('routing: ipip in BPF names a peer off the underlay subnet when the underlay has no gateway', () => {
  const state = backendDriver('ipip').desired({ ...input(), ipipBpf: true });
  assert.deepEqual(
    state.routes.map((r) => r.dst),
    ['10.244.2.0/24'],
  );
  assert.deepEqual(state.problems, [
    {
      peer: 'node-3',
      reason: "172.31.2.1 is outside eth0's subnet and eth0 has no default gateway",
    },
  ]);
});

test('routing: auto goes direct inside the zone and through VXLAN across', () => {
  const state = backendDriver('auto').desired(input());
  assert.equal(state.links[0]?.name, 'pn-vxlan');
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: false },
    { dst: '10.244.3.0/24', gateway: '10.244.3.0', dev: 'pn-vxlan', onlink: true },
  ]);
  assert.deepEqual(state.neighbours, [
    { dev: 'pn-vxlan', ip: '10.244.3.0', mac: '02:00:00:00:00:03' },
  ]);
  assert.deepEqual(state.problems, []);
});

test('routing: auto with autoTunnel ipip goes direct inside the zone and through the ipip device across', () => {
  const state = backendDriver('auto').desired({ ...input(), autoTunnel: 'ipip' });
  assert.deepEqual(state.links, [
    { kind: 'ipip', name: 'pn-ipip', local: '172.31.1.1', mtu: 1480, addresses: ['10.244.1.0/32'] },
  ]);
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: false },
    { dst: '10.244.3.0/24', gateway: '172.31.2.1', dev: 'pn-ipip', onlink: true },
  ]);
  assert.deepEqual(state.neighbours, []);
  assert.deepEqual(state.fdb, []);
  assert.equal(state.ipipTunnels, undefined);
});

test('routing: auto with autoTunnel ipip in BPF hands only the peer across zones to the programs', () => {
  const state = backendDriver('auto').desired({
    ...input(),
    underlay: { ...underlay, gateway: '172.31.1.254' },
    autoTunnel: 'ipip',
    ipipBpf: true,
  });
  assert.deepEqual(state.links, []);
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: false },
    { dst: '10.244.3.0/24', gateway: '172.31.1.254', dev: 'eth0', onlink: true, mtu: 1480 },
  ]);
  assert.deepEqual(state.ipipTunnels, [
    { podCIDR: '10.244.3.0/24', remote: '172.31.2.1', local: '172.31.1.1' },
  ]);
  assert.deepEqual(
    state.sysctls.map((s) => s.key),
    ['net.ipv4.ip_forward', 'net.ipv4.conf.eth0.rp_filter'],
  );
});

test('routing: auto with autoTunnel vxlan is auto as before', () => {
  assert.deepEqual(
    backendDriver('auto').desired({ ...input(), autoTunnel: 'vxlan' }),
    backendDriver('auto').desired(input()),
  );
});

test('routing: VTEP MACs are unicast and locally administered', () => {
  assert.equal(vtepMacFrom(new Uint8Array([0xff, 1, 2, 3, 4, 5])), 'fe:01:02:03:04:05');
  assert.equal(vtepMacFrom(new Uint8Array([0, 0xab, 0, 0, 0, 0x10])), '02:ab:00:00:00:10');
  assert.ok(isMac('02:ab:00:00:00:10'));
  assert.ok(!isMac('02:AB:00:00:00'));
});

test('routing: a peer is on link when its address is in the underlay segment', () => {
  const underlay = { dev: 'eth0', address: '172.31.1.11', prefixLength: 24, mtu: 1500 };
  const peer = (ip: string) => ({ name: 'p', podCIDR: '10.244.9.0/24', ip });
  assert.ok(onLink(peer('172.31.1.12'), underlay));
  assert.ok(!onLink(peer('172.31.2.12'), underlay));
  // An InternalIP no validation let in is the Node's data error, not the user's usage error.
  assert.throws(
    () => onLink(peer('172.031.1.12'), underlay),
    (e: Error) =>
      e instanceof DataError &&
      e.message === 'Node p: InternalIP "172.031.1.12": not an IPv4 or IPv6 address',
  );
});
