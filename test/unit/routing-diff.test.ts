import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActualState, Change } from '../../src/kernel/netobjects.js';
import { renderCommands } from '../../src/kernel/routing-render.js';
import { backendDriver } from '../../src/routing/backends/registry.js';
import type { DesiredState } from '../../src/routing/desired.js';
import { diffState } from '../../src/routing/diff.js';
import { stateAfter } from '../../src/routing/expected.js';
import { splitHosts } from '../../src/routing/peers.js';
import { makeNode } from '../helpers/routing-nodes.js';

const underlay = { dev: 'eth0', address: '172.31.1.1', prefixLength: 24, mtu: 1500 };
const allNodes = [
  makeNode('node-1', '10.244.1.0/24', '172.31.1.1', { mac: '02:00:00:00:00:01' }),
  makeNode('node-2', '10.244.2.0/24', '172.31.1.2', { mac: '02:00:00:00:00:02' }),
  makeNode('node-3', '10.244.3.0/24', '172.31.2.1', { mac: '02:00:00:00:00:03' }),
];

function desired(backend: string, nodes = allNodes): DesiredState {
  const { self, peers } = splitHosts(nodes, 'node-1');
  return backendDriver(backend).desired({
    self: self!,
    peers,
    underlay,
    vtepMac: '02:00:00:00:00:01',
  });
}

const empty: ActualState = { routes: [], links: [], neighbours: [], fdb: [], sysctls: {} };

/** A kernel with forwarding on and loose rp_filter, as a reconciled host has it. */
const forwarding: ActualState = {
  ...empty,
  sysctls: {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
  },
};

/** What the kernel would hold after applying `state` (the reader's view of it). */
function asActual(state: DesiredState): ActualState {
  return stateAfter(state, forwarding, []);
}

const ops = (changes: Change[]): string[] => changes.map((c) => c.op);

test('routing: from empty, vxlan programs device, FDB, neighbours, then routes, then sysctls', () => {
  const changes = diffState(desired('vxlan'), empty);
  assert.deepEqual(renderCommands(changes), [
    'ip link add pn-vxlan address 02:00:00:00:00:01 mtu 1450 type vxlan id 1 local 172.31.1.1 dev eth0 dstport 8472 nolearning',
    'ip link set pn-vxlan up',
    'ip addr add 10.244.1.0/32 dev pn-vxlan',
    'bridge fdb append 02:00:00:00:00:02 dev pn-vxlan dst 172.31.1.2 self permanent',
    'bridge fdb append 02:00:00:00:00:03 dev pn-vxlan dst 172.31.2.1 self permanent',
    'ip neigh replace 10.244.2.0 lladdr 02:00:00:00:00:02 dev pn-vxlan nud permanent',
    'ip neigh replace 10.244.3.0 lladdr 02:00:00:00:00:03 dev pn-vxlan nud permanent',
    'ip route add 10.244.2.0/24 via 10.244.2.0 dev pn-vxlan onlink proto 80',
    'ip route add 10.244.3.0/24 via 10.244.3.0 dev pn-vxlan onlink proto 80',
    'sysctl -w net.ipv4.ip_forward=1',
  ]);
});

test('routing: nothing changes when the kernel already has the desired state', () => {
  for (const backend of ['host-gw', 'vxlan', 'ipip', 'auto']) {
    const state = desired(backend);
    assert.deepEqual(diffState(state, asActual(state)), [], backend);
  }
});

test('routing: a removed node loses its route, neighbour and FDB entry, nothing else', () => {
  const before = asActual(desired('vxlan'));
  const changes = diffState(desired('vxlan', allNodes.slice(0, 2)), before);
  assert.deepEqual(renderCommands(changes), [
    'bridge fdb del 02:00:00:00:00:03 dev pn-vxlan dst 172.31.2.1 self',
    'ip route del 10.244.3.0/24 via 10.244.3.0 dev pn-vxlan onlink proto 80',
    'ip neigh del 10.244.3.0 dev pn-vxlan',
  ]);
});

test('routing: a joining node adds exactly its FDB entry, neighbour and route', () => {
  const before = asActual(desired('vxlan', allNodes.slice(0, 2)));
  assert.deepEqual(ops(diffState(desired('vxlan'), before)), [
    'fdb-append',
    'neigh-replace',
    'route-add',
  ]);
});

test('routing: a peer whose VTEP MAC changed gets its FDB entry and neighbour swapped', () => {
  const before = asActual(desired('vxlan'));
  const moved = allNodes.map((n) =>
    n.metadata.name === 'node-2'
      ? makeNode('node-2', '10.244.2.0/24', '172.31.1.2', { mac: '02:00:00:00:00:22' })
      : n,
  );
  assert.deepEqual(renderCommands(diffState(desired('vxlan', moved), before)), [
    'bridge fdb append 02:00:00:00:00:22 dev pn-vxlan dst 172.31.1.2 self permanent',
    'bridge fdb del 02:00:00:00:00:02 dev pn-vxlan dst 172.31.1.2 self',
    'ip neigh replace 10.244.2.0 lladdr 02:00:00:00:00:22 dev pn-vxlan nud permanent',
  ]);
});

/** What a two-node host changes when its backend goes from `from` to `to`. */
function switchBackend(from: string, to: string): Change[] {
  const twoNodes = allNodes.slice(0, 2);
  return diffState(desired(to, twoNodes), asActual(desired(from, twoNodes)));
}

test('routing: switching vxlan to host-gw replaces routes in place, then removes the device', () => {
  assert.deepEqual(renderCommands(switchBackend('vxlan', 'host-gw')), [
    'ip route replace 10.244.2.0/24 via 172.31.1.2 dev eth0 proto 80',
    'ip link del pn-vxlan',
  ]);
});

test('routing: switching host-gw to vxlan builds the tunnel before replacing routes', () => {
  assert.deepEqual(ops(switchBackend('host-gw', 'vxlan')), [
    'link-add',
    'addr-add',
    'fdb-append',
    'neigh-replace',
    'route-replace',
  ]);
});

test('routing: a changed underlay MTU is set in place; a changed VNI recreates the device', () => {
  const state = desired('vxlan');
  const actual = asActual(state);
  actual.links[0]!.mtu = 1400;
  assert.deepEqual(renderCommands(diffState(state, actual)), ['ip link set pn-vxlan mtu 1450 up']);
  actual.links[0]!.vxlan!.vni = 7;
  const changes = diffState(state, actual);
  assert.deepEqual(ops(changes).slice(0, 3), ['link-del', 'link-add', 'addr-add']);
  // Everything on the old device went with it, so it is all programmed again.
  assert.equal(ops(changes).filter((o) => o === 'route-add').length, 2);
});

test('routing: rp_filter is loosened only where the effective value is strict', () => {
  const state = desired('host-gw');
  const actual = asActual(state);
  assert.deepEqual(diffState(state, actual), []);
  actual.sysctls['net.ipv4.conf.all.rp_filter'] = '1';
  assert.deepEqual(renderCommands(diffState(state, actual)), [
    'sysctl -w net.ipv4.conf.eth0.rp_filter=2',
  ]);
  actual.sysctls['net.ipv4.conf.all.rp_filter'] = '0';
  actual.sysctls['net.ipv4.conf.eth0.rp_filter'] = '1';
  actual.sysctls['net.ipv4.ip_forward'] = '0';
  assert.deepEqual(diffState(state, actual), [
    { op: 'sysctl', key: 'net.ipv4.ip_forward', value: '1', was: '0' },
    { op: 'sysctl', key: 'net.ipv4.conf.eth0.rp_filter', value: '2', was: '1' },
  ]);
});

test('routing: a hand-deleted route is added back, a foreign podnet route removed', () => {
  const state = desired('host-gw', allNodes.slice(0, 2));
  const actual = asActual(state);
  actual.routes = [{ dst: '10.244.9.0/24', gateway: '172.31.1.9', dev: 'eth0', onlink: false }];
  assert.deepEqual(renderCommands(diffState(state, actual)), [
    'ip route add 10.244.2.0/24 via 172.31.1.2 dev eth0 proto 80',
    'ip route del 10.244.9.0/24 via 172.31.1.9 dev eth0 proto 80',
  ]);
});

test('routing: the state a diff leaves behind diffs to nothing (the loop trusts it between reads)', () => {
  for (const backend of ['host-gw', 'vxlan', 'ipip', 'auto']) {
    for (const from of [empty, asActual(desired('vxlan', allNodes.slice(0, 2)))]) {
      const state = desired(backend);
      const changes = diffState(state, from);
      assert.deepEqual(diffState(state, stateAfter(state, from, changes)), [], backend);
    }
  }
});
