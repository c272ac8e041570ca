import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRoutes, type RouteTable, type RoutedNode } from '../../src/cloud/routes.js';
import { validateObject } from '../../src/api/validate.js';
import { backendDriver } from '../../src/routing/backends/registry.js';
import { splitHosts } from '../../src/routing/peers.js';
import { ANNOTATION_CLOUD_ROUTE, type CloudPlacement } from '../../src/api/types.js';
import { makeNode } from '../helpers/routing-nodes.js';

const CLUSTER = '10.244.0.0/16';
const CLUSTER_IPV6 = 'fd00:10:244::/56';
const local = { destination: '172.31.0.0/16', state: 'active' as const };
const internet = { destination: '0.0.0.0/0', state: 'active' as const };

function node(n: number, eni = `eni-${n}`): RoutedNode {
  return { name: `node-${n}`, podCIDRs: [`10.244.${n}.0/24`], networkInterfaceId: eni };
}

/** A dual-stack node: a /24 and a /64, both to its interface. */
function dualNode(n: number): RoutedNode {
  return {
    name: `node-${n}`,
    podCIDRs: [`10.244.${n}.0/24`, `fd00:10:244:${n}::/64`],
    networkInterfaceId: `eni-${n}`,
  };
}

function plan(tables: RouteTable[], nodes: RoutedNode[], routeLimit = 50, overflow = 'refuse') {
  return planRoutes({
    tables,
    nodes,
    clusterCIDRs: [CLUSTER, CLUSTER_IPV6],
    routeLimit,
    overflow: overflow as 'refuse' | 'vxlan',
  });
}

test('cloud: missing routes are created, one per node and table', () => {
  const p = plan(
    [
      { id: 'rtb-a', routes: [local] },
      { id: 'rtb-b', routes: [local] },
    ],
    [node(1), node(2)],
  );
  assert.deepEqual(p.calls, [
    { op: 'create', table: 'rtb-a', destination: '10.244.1.0/24', networkInterfaceId: 'eni-1' },
    { op: 'create', table: 'rtb-a', destination: '10.244.2.0/24', networkInterfaceId: 'eni-2' },
    { op: 'create', table: 'rtb-b', destination: '10.244.1.0/24', networkInterfaceId: 'eni-1' },
    { op: 'create', table: 'rtb-b', destination: '10.244.2.0/24', networkInterfaceId: 'eni-2' },
  ]);
  assert.deepEqual(
    [...p.placements],
    [
      ['node-1', 'routed'],
      ['node-2', 'routed'],
    ],
  );
  assert.equal(p.shortfall, undefined);
});

test('cloud: a converged table needs no call at all', () => {
  const table = {
    id: 'rtb-a',
    routes: [
      local,
      { destination: '10.244.1.0/24', networkInterfaceId: 'eni-1', state: 'active' as const },
    ],
  };
  assert.deepEqual(plan([table], [node(1)]).calls, []);
});

test('cloud: wrong targets and blackholes of live nodes are replaced; stale in-cluster routes deleted; others left alone', () => {
  const p = plan(
    [
      {
        id: 'rtb-a',
        routes: [
          local,
          internet,
          { destination: '10.0.0.0/8', networkInterfaceId: 'eni-peering', state: 'active' },
          { destination: '10.244.1.0/24', networkInterfaceId: 'eni-9', state: 'active' },
          { destination: '10.244.2.0/24', state: 'blackhole' },
          { destination: '10.244.7.0/24', networkInterfaceId: 'eni-7', state: 'active' },
          { destination: '10.244.8.0/24', state: 'blackhole' },
        ],
      },
    ],
    [node(1), node(2)],
  );
  assert.deepEqual(p.calls, [
    { op: 'delete', table: 'rtb-a', destination: '10.244.7.0/24', why: 'matches no routed node' },
    { op: 'delete', table: 'rtb-a', destination: '10.244.8.0/24', why: 'blackhole' },
    {
      op: 'replace',
      table: 'rtb-a',
      destination: '10.244.1.0/24',
      networkInterfaceId: 'eni-1',
      was: 'eni-9',
    },
    {
      op: 'replace',
      table: 'rtb-a',
      destination: '10.244.2.0/24',
      networkInterfaceId: 'eni-2',
      was: 'blackhole',
    },
  ]);
});

test('cloud: a node whose interface is not known yet waits without a slot', () => {
  const p = plan(
    [{ id: 'rtb-a', routes: [local] }],
    [{ name: 'node-1', podCIDRs: ['10.244.1.0/24'] }],
  );
  assert.deepEqual(p.calls, []);
  assert.equal(p.placements.size, 0);
});

test('cloud: past the route limit, nodes holding a route keep it and the rest are refused', () => {
  // limit 4 = local + default + 2 node routes; node-5 already holds one.
  const held = {
    destination: '10.244.5.0/24',
    networkInterfaceId: 'eni-5',
    state: 'active' as const,
  };
  const p = plan(
    [{ id: 'rtb-a', routes: [local, internet, held] }],
    [node(1), node(2), node(3), node(5)],
    4,
  );
  assert.deepEqual(
    p.calls.map((c) => `${c.op} ${c.destination}`),
    ['create 10.244.1.0/24'],
  );
  assert.deepEqual(Object.fromEntries(p.placements), {
    'node-5': 'routed',
    'node-1': 'routed',
    'node-2': 'refused',
    'node-3': 'refused',
  });
  assert.deepEqual(p.shortfall, { table: 'rtb-a', count: 4, limit: 4 });
});

test('cloud: with overflow vxlan the nodes past the limit overflow; a freed slot moves the first back', () => {
  const full = plan([{ id: 'rtb-a', routes: [local] }], [node(1), node(2), node(3)], 3, 'vxlan');
  assert.equal(full.placements.get('node-3'), 'overflow');
  const routes = [
    local,
    { destination: '10.244.2.0/24', networkInterfaceId: 'eni-2', state: 'active' as const },
  ];
  const freed = plan([{ id: 'rtb-a', routes }], [node(2), node(3)], 3, 'vxlan');
  assert.deepEqual(Object.fromEntries(freed.placements), {
    'node-2': 'routed',
    'node-3': 'routed',
  });
  assert.deepEqual(
    freed.calls.map((c) => `${c.op} ${c.destination}`),
    ['create 10.244.3.0/24'],
  );
});

test('cloud: a lowered limit deletes the routes of nodes that no longer fit', () => {
  const routes = [1, 2, 3].map((n) => ({
    destination: `10.244.${n}.0/24`,
    networkInterfaceId: `eni-${n}`,
    state: 'active' as const,
  }));
  const p = plan(
    [{ id: 'rtb-a', routes: [local, ...routes] }],
    [node(1), node(2), node(3)],
    3,
    'vxlan',
  );
  assert.deepEqual(p.calls, [
    { op: 'delete', table: 'rtb-a', destination: '10.244.3.0/24', why: 'matches no routed node' },
  ]);
  assert.equal(p.placements.get('node-3'), 'overflow');
});

test('cloud, dual-stack: each node gets a route per pod subnet, the IPv6 one beside the IPv4 one; a removed node loses both', () => {
  const stale = [
    { destination: '10.244.9.0/24', networkInterfaceId: 'eni-9', state: 'active' as const },
    { destination: 'fd00:10:244:9::/64', networkInterfaceId: 'eni-9', state: 'active' as const },
  ];
  const vpc6 = { destination: 'fd00:172:31::/48', state: 'active' as const };
  const p = plan([{ id: 'rtb-a', routes: [local, vpc6, ...stale] }], [dualNode(1)]);
  assert.deepEqual(p.calls, [
    { op: 'delete', table: 'rtb-a', destination: '10.244.9.0/24', why: 'matches no routed node' },
    {
      op: 'delete',
      table: 'rtb-a',
      destination: 'fd00:10:244:9::/64',
      why: 'matches no routed node',
    },
    { op: 'create', table: 'rtb-a', destination: '10.244.1.0/24', networkInterfaceId: 'eni-1' },
    {
      op: 'create',
      table: 'rtb-a',
      destination: 'fd00:10:244:1::/64',
      networkInterfaceId: 'eni-1',
    },
  ]);
  assert.deepEqual(Object.fromEntries(p.placements), { 'node-1': 'routed' });
  // Written in another form, the same IPv6 route is no change.
  const held = [
    { destination: '10.244.1.0/24', networkInterfaceId: 'eni-1', state: 'active' as const },
    { destination: 'fd00:10:244:1:0::/64', networkInterfaceId: 'eni-1', state: 'active' as const },
  ];
  assert.deepEqual(plan([{ id: 'rtb-a', routes: [local, ...held] }], [dualNode(1)]).calls, []);
});

test('cloud, dual-stack: the route limit holds per family, and a node is routed only when both of its routes fit', () => {
  // Limit 3: IPv4 has local alone (2 free); IPv6 has the VPC range and a default route (1 free).
  const ipv6Foreign = [
    { destination: 'fd00:172:31::/48', state: 'active' as const },
    { destination: '::/0', state: 'active' as const },
  ];
  const p = plan([{ id: 'rtb-a', routes: [local, ...ipv6Foreign] }], [dualNode(1), dualNode(2)], 3);
  assert.deepEqual(Object.fromEntries(p.placements), { 'node-1': 'routed', 'node-2': 'refused' });
  assert.deepEqual(
    p.calls.map((c) => `${c.op} ${c.destination}`),
    ['create 10.244.1.0/24', 'create fd00:10:244:1::/64'],
  );
  assert.deepEqual(p.shortfall, { table: 'rtb-a', count: 3, limit: 3 });
  // IPv4 routes alone do not use IPv6 slots: with the IPv6 default route gone both fit.
  const roomy = plan(
    [{ id: 'rtb-a', routes: [local, ipv6Foreign[0]!] }],
    [dualNode(1), dualNode(2)],
    3,
  );
  assert.deepEqual(Object.fromEntries(roomy.placements), {
    'node-1': 'routed',
    'node-2': 'routed',
  });
  assert.equal(roomy.shortfall, undefined);
});

function cloudNetwork(cloud: unknown, backend = 'cloud') {
  return validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: { backend, cloud },
  });
}

test('cloud: ClusterNetwork cloud settings are checked field by field', () => {
  const good = { provider: 'aws', routeTableIDs: ['rtb-0abc'], region: 'eu-west-1' };
  assert.deepEqual(cloudNetwork(good).errors, []);
  assert.deepEqual(cloudNetwork({ ...good, routeLimit: 1001 }).errors, [
    'ClusterNetwork default: spec.cloud.routeLimit: must be 1-1000 (AWS allows at most 1,000 routes per table), got 1001',
  ]);
  assert.match(
    cloudNetwork({ ...good, routeTableIDs: ['main'] }).errors.join('\n'),
    /spec\.cloud\.routeTableIDs\.0|spec\.cloud\.routeTableIDs\[0\]: must be a route table ID like rtb-0abc/,
  );
  assert.match(
    cloudNetwork({ ...good, endpoint: 'ftp://x' }).errors.join('\n'),
    /spec\.cloud\.endpoint: must be an http/,
  );
  assert.match(
    cloudNetwork({ ...good, overflow: 'bgp' }).errors.join('\n'),
    /spec\.cloud\.overflow/,
  );
  assert.match(
    cloudNetwork(undefined).errors.join('\n'),
    /spec\.cloud: is required when spec\.backend is cloud/,
  );
  assert.match(
    cloudNetwork(good, 'auto').errors.join('\n'),
    /spec\.cloud: may only be set when spec\.backend is cloud/,
  );
  assert.match(
    cloudNetwork({ ...good, routeTableIDs: ['rtb-1', 'rtb-1'] }).errors.join('\n'),
    /spec\.cloud\.routeTableIDs\[1\]: duplicate route table "rtb-1"/,
  );
});

function placed(name: string, n: number, zone: string, where?: CloudPlacement) {
  const node = makeNode(name, `10.244.${n}.0/24`, `172.31.${zone}.${n}`, {
    zone,
    mac: `02:00:00:00:00:0${n}`,
  });
  if (where) node.metadata.annotations![ANNOTATION_CLOUD_ROUTE] = where;
  return node;
}

test('cloud backend: routed peers need nothing on the host; overflow peers go over VXLAN; refused ones are named', () => {
  const nodes = [
    placed('node-1', 1, '1', 'routed'),
    placed('node-2', 2, '2', 'routed'),
    placed('node-3', 3, '2', 'overflow'),
    placed('node-4', 4, '1', 'refused'),
    placed('node-5', 5, '1'),
  ];
  const { self, peers } = splitHosts(nodes, 'node-1');
  const underlay = { dev: 'eth0', address: '172.31.1.1', prefixLength: 24, mtu: 1500 };
  const state = backendDriver('cloud').desired({
    self: self!,
    peers,
    underlay,
    vtepMac: '02:00:00:00:00:01',
  });
  assert.deepEqual(
    state.links.map((l) => l.name),
    ['pn-vxlan'],
  );
  assert.deepEqual(state.routes, [
    { dst: '10.244.3.0/24', gateway: '10.244.3.0', dev: 'pn-vxlan', onlink: true },
  ]);
  assert.deepEqual(state.problems, [
    {
      peer: 'node-4',
      reason: 'node-4 has no cloud route: the route table is full (see podnet doctor)',
    },
    { peer: 'node-5', reason: 'node-5 has no cloud route yet' },
  ]);
});

test('cloud backend: with every node routed there is no tunnel device at all', () => {
  const nodes = [placed('node-1', 1, '1', 'routed'), placed('node-2', 2, '2', 'routed')];
  const { self, peers } = splitHosts(nodes, 'node-1');
  const underlay = { dev: 'eth0', address: '172.31.1.1', prefixLength: 24, mtu: 1500 };
  const state = backendDriver('cloud').desired({
    self: self!,
    peers,
    underlay,
    vtepMac: '02:00:00:00:00:01',
  });
  assert.deepEqual(state.links, []);
  assert.deepEqual(state.routes, []);
  assert.deepEqual(state.problems, []);
});
