// Dual-stack routing: the IPv6 half each backend adds, per peer and family.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_CLOUD_ROUTE, type Node } from '../../src/api/types.js';
import { backendDriver } from '../../src/routing/backends/registry.js';
import type { BackendInput } from '../../src/routing/desired.js';
import { hostFromNode, splitHosts } from '../../src/routing/peers.js';
import { desiredFor } from '../../src/routing/reconcile.js';
import { renderCommands } from '../../src/kernel/routing-render.js';
import { diffState } from '../../src/routing/diff.js';
import { stateAfter } from '../../src/routing/expected.js';
import { routingRoutes } from '../../src/kernel/routing-read.js';
import { makeNode } from '../helpers/routing-nodes.js';

/** A dual-stack node: its IPv6 subnet in spec.podCIDRs, its IPv6 address a second InternalIP. */
function dualNode(
  name: string,
  v4: [string, string],
  v6: [string, string | undefined],
  opts: { zone: string; mac: string },
): Node {
  const node = makeNode(name, v4[0], v4[1], opts);
  node.spec.podCIDRs = [v4[0], v6[0]];
  if (v6[1]) node.status!.addresses!.push({ type: 'InternalIP', address: v6[1] });
  return node;
}

const nodes = [
  dualNode('node-1', ['10.244.1.0/24', '172.31.1.1'], ['fd00:10:244:1::/64', 'fd00:172:31:1::1'], {
    zone: 'z1',
    mac: '02:00:00:00:00:01',
  }),
  dualNode('node-2', ['10.244.2.0/24', '172.31.1.2'], ['fd00:10:244:2::/64', 'fd00:172:31:1::2'], {
    zone: 'z1',
    mac: '02:00:00:00:00:02',
  }),
  dualNode('node-3', ['10.244.3.0/24', '172.31.2.3'], ['fd00:10:244:3::/64', 'fd00:172:31:2::3'], {
    zone: 'z2',
    mac: '02:00:00:00:00:03',
  }),
];
const underlay = {
  dev: 'eth0',
  address: '172.31.1.1',
  prefixLength: 24,
  mtu: 1500,
  ipv6: { address: 'fd00:172:31:1::1', prefixLength: 64 },
};

function input(from: readonly Node[] = nodes): BackendInput {
  const { self, peers } = splitHosts(from, 'node-1');
  return { self: self!, peers, underlay, vtepMac: '02:00:00:00:00:01' };
}

const routesOf = (backend: string, from?: readonly Node[]): string[] =>
  desiredFor(backendDriver(backend), undefined, input(from))
    .routes.filter((r) => r.dst.includes(':'))
    .map((r) => `${r.dst} via ${r.gateway} dev ${r.dev}${r.onlink ? ' onlink' : ''}`);

test('routing ipv6: a node carries its IPv6 subnet and underlay address beside the IPv4 ones', () => {
  const host = hostFromNode(nodes[1]!)!;
  assert.equal(host.podCIDRIPv6, 'fd00:10:244:2::/64');
  assert.equal(host.ipv6, 'fd00:172:31:1::2');
  assert.equal(hostFromNode(makeNode('v4', '10.244.9.0/24', '172.31.1.9'))!.podCIDRIPv6, undefined);
});

test('routing ipv6: auto routes the zone peer directly over IPv6 and the other zone through pn-vxlan6', () => {
  assert.deepEqual(routesOf('auto'), [
    'fd00:10:244:2::/64 via fd00:172:31:1::2 dev eth0',
    'fd00:10:244:3::/64 via fd00:10:244:3:: dev pn-vxlan6 onlink',
  ]);
  const state = desiredFor(backendDriver('auto'), undefined, input());
  const device = state.links.find((l) => l.name === 'pn-vxlan6');
  assert.deepEqual(
    device && device.kind === 'vxlan' && [device.vni, device.local, device.addresses],
    [2, '172.31.1.1', ['fd00:10:244:1::/128']],
  );
  assert.deepEqual(
    state.fdb.filter((f) => f.dev === 'pn-vxlan6'),
    [{ dev: 'pn-vxlan6', mac: '02:00:00:00:00:03', dst: '172.31.2.3' }],
  );
  assert.deepEqual(
    state.neighbours.filter((n) => n.dev === 'pn-vxlan6'),
    [{ dev: 'pn-vxlan6', ip: 'fd00:10:244:3::', mac: '02:00:00:00:00:03' }],
  );
  // accept_ra=2 before forwarding=1: the underlay keeps what it learned from Router Advertisements.
  const keys = state.sysctls.map((s) => s.key);
  assert.ok(
    keys.indexOf('net.ipv6.conf.eth0.accept_ra') < keys.indexOf('net.ipv6.conf.all.forwarding'),
  );
  assert.ok(keys.indexOf('net.ipv6.conf.eth0.accept_ra') >= 0);
});

test('routing ipv6: auto decides per family: a zone peer with no IPv6 underlay address goes through the tunnel', () => {
  const v4only = [
    nodes[0]!,
    dualNode('node-2', ['10.244.2.0/24', '172.31.1.2'], ['fd00:10:244:2::/64', undefined], {
      zone: 'z1',
      mac: '02:00:00:00:00:02',
    }),
  ];
  assert.deepEqual(routesOf('auto', v4only), [
    'fd00:10:244:2::/64 via fd00:10:244:2:: dev pn-vxlan6 onlink',
  ]);
  // ...while its IPv4 subnet is still routed directly.
  assert.ok(
    desiredFor(backendDriver('auto'), undefined, input(v4only)).routes.some(
      (r) => r.dst === '10.244.2.0/24' && r.dev === 'eth0',
    ),
  );
});

test('routing ipv6: host-gw names the peer it cannot reach over IPv6; vxlan tunnels all', () => {
  assert.deepEqual(routesOf('host-gw'), ['fd00:10:244:2::/64 via fd00:172:31:1::2 dev eth0']);
  const problems = desiredFor(backendDriver('host-gw'), undefined, input()).problems;
  assert.ok(
    problems.some((p) => p.peer === 'node-3' && /fd00:172:31:2::3 is not on-link/.test(p.reason)),
  );
  assert.deepEqual(routesOf('vxlan'), [
    'fd00:10:244:2::/64 via fd00:10:244:2:: dev pn-vxlan6 onlink',
    'fd00:10:244:3::/64 via fd00:10:244:3:: dev pn-vxlan6 onlink',
  ]);
});

test('routing ipv6: an IPv4-only cluster gets nothing new', () => {
  const v4 = [
    makeNode('node-1', '10.244.1.0/24', '172.31.1.1'),
    makeNode('node-2', '10.244.2.0/24', '172.31.1.2'),
  ];
  const state = desiredFor(backendDriver('auto'), undefined, input(v4));
  assert.ok(state.links.every((l) => l.name !== 'pn-vxlan6'));
  assert.ok(state.sysctls.every((s) => !s.key.startsWith('net.ipv6')));
});

test('routing ipv6: the device renders with its own VNI and the routes as ip takes them', () => {
  const state = desiredFor(backendDriver('vxlan'), undefined, input());
  const device = state.links.find((l) => l.name === 'pn-vxlan6')!;
  assert.deepEqual(renderCommands([{ op: 'link-add', link: device }]), [
    'ip link add pn-vxlan6 address 02:00:00:00:00:01 mtu 1450 type vxlan id 2 local 172.31.1.1 dev eth0 dstport 8472 nolearning',
    'ip link set pn-vxlan6 up',
  ]);
});

test('routing ipv6: the kernel read keeps main-table routes of both families and the host route lengths right', () => {
  assert.deepEqual(
    routingRoutes([
      { dst: 'fd00:10:244:2::/64', gateway: 'fd00:172:31:1::2', dev: 'eth0', flags: [] },
      { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', table: '100', flags: [] },
      { dst: 'fd00:10:244:9::1', gateway: 'fd00:172:31:1::2', dev: 'eth0', flags: [] },
      { dst: 'fd00:10:244:1::5', dev: 'pn0123456789a', flags: [] },
    ]).map((r) => r.dst),
    ['fd00:10:244:2::/64', 'fd00:10:244:9::1/128'],
  );
});

test('routing ipv6: a switch from host-gw to vxlan deletes the direct IPv6 route before adding the tunnel one', () => {
  const twoNodes = nodes.slice(0, 2);
  const want = (backend: string) => desiredFor(backendDriver(backend), undefined, input(twoNodes));
  const empty = { routes: [], links: [], neighbours: [], fdb: [], sysctls: {} };
  const commands = renderCommands(diffState(want('vxlan'), stateAfter(want('host-gw'), empty, [])));
  const v6 = commands.filter((c) => c.includes('fd00:10:244:2::/64'));
  // The kernel refuses `replace` here: the new gateway lies inside the route being replaced.
  assert.deepEqual(v6, [
    'ip route del fd00:10:244:2::/64 via fd00:172:31:1::2 dev eth0 proto 80',
    'ip route add fd00:10:244:2::/64 via fd00:10:244:2:: dev pn-vxlan6 onlink proto 80',
  ]);
  // IPv4 still swaps in place.
  assert.ok(
    commands.includes('ip route replace 10.244.2.0/24 via 10.244.2.0 dev pn-vxlan onlink proto 80'),
  );
});

/** An IPv6-only node: its one pod subnet IPv6 (spec.podCIDR and podCIDRs), both underlay addresses. */
function ipv6OnlyNode(name: string, subnet: string, v4: string, v6: string, zone: string): Node {
  const node = makeNode(name, subnet, v4, { zone, mac: `02:00:00:00:00:0${name.slice(-1)}` });
  node.spec.podCIDRs = [subnet];
  node.status!.addresses!.push({ type: 'InternalIP', address: v6 });
  return node;
}

const ipv6Only = [
  ipv6OnlyNode('node-1', 'fd00:10:244:1::/64', '172.31.1.1', 'fd00:172:31:1::1', 'z1'),
  ipv6OnlyNode('node-2', 'fd00:10:244:2::/64', '172.31.1.2', 'fd00:172:31:1::2', 'z1'),
  ipv6OnlyNode('node-3', 'fd00:10:244:3::/64', '172.31.2.3', 'fd00:172:31:2::3', 'z2'),
];

test('routing ipv6: an IPv6-only host builds the IPv6 half alone, with no IPv4 device or route', () => {
  for (const backend of ['auto', 'vxlan', 'host-gw']) {
    const state = desiredFor(backendDriver(backend), undefined, input(ipv6Only));
    assert.ok(
      state.routes.every((r) => r.dst.includes(':')),
      `${backend}: ${JSON.stringify(state.routes)}`,
    );
    assert.ok(
      state.links.every((l) => l.name === 'pn-vxlan6'),
      `${backend}: ${state.links.map((l) => l.name).join(', ')}`,
    );
  }
  assert.deepEqual(routesOf('auto', ipv6Only), [
    'fd00:10:244:2::/64 via fd00:172:31:1::2 dev eth0',
    'fd00:10:244:3::/64 via fd00:10:244:3:: dev pn-vxlan6 onlink',
  ]);
  const [vxlan6] = desiredFor(backendDriver('auto'), undefined, input(ipv6Only)).links;
  assert.deepEqual(vxlan6 && 'addresses' in vxlan6 ? vxlan6.addresses : [], [
    'fd00:10:244:1::/128',
  ]);
});

test('routing ipv6: cloud leaves routed peers to the VPC in both families and tunnels an overflow peer over pn-vxlan6', () => {
  const placed = nodes.map((n, i) => {
    const node = structuredClone(n);
    node.metadata.annotations![ANNOTATION_CLOUD_ROUTE] = i === 2 ? 'overflow' : 'routed';
    return node;
  });
  const state = desiredFor(backendDriver('cloud'), undefined, input(placed));
  assert.deepEqual(state.problems, [], 'no peer is said to be IPv4-only');
  assert.deepEqual(routesOf('cloud', placed), [
    'fd00:10:244:3::/64 via fd00:10:244:3:: dev pn-vxlan6 onlink',
  ]);
  assert.ok(state.links.some((l) => l.name === 'pn-vxlan6'));
  // All routed: no device, no route of podnet's for IPv6.
  for (const n of placed) n.metadata.annotations![ANNOTATION_CLOUD_ROUTE] = 'routed';
  const routed = desiredFor(backendDriver('cloud'), undefined, input(placed));
  assert.deepEqual(routesOf('cloud', placed), []);
  assert.ok(!routed.links.some((l) => l.name === 'pn-vxlan6'));
});
