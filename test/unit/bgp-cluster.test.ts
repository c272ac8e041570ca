import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  nodeBgpPlan,
  routedNodes,
  routerId,
  sessionFamily,
  withoutRemovedNodes,
} from '../../src/bgp/cluster.js';
import type { BGPPeer, Node } from '../../src/api/types.js';
import { DataError } from '../../src/util/errors.js';

function node(
  name: string,
  ip: string,
  podCIDR: string,
  labels: Record<string, string> = {},
): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'topology.kubernetes.io/zone': 'z1', ...labels } },
    spec: { podCIDR },
    status: { addresses: [{ type: 'InternalIP', address: ip }] },
  };
}

const n1 = node('n1', '172.31.1.1', '10.244.1.0/24');
const n2 = node('n2', '172.31.1.2', '10.244.2.0/24');
const n3 = node('n3', '172.31.2.3', '10.244.3.0/24');

/** The top-of-rack router of zone z1, in AS 65000. */
const torZ1: BGPPeer = {
  apiVersion: 'podnet.io/v1',
  kind: 'BGPPeer',
  metadata: { name: 'tor-z1' },
  spec: {
    peerIP: '172.31.1.254',
    asNumber: 65000,
    nodeSelector: { 'topology.kubernetes.io/zone': 'z1' },
  },
};

test('bgp cluster: full iBGP mesh in AS 64512, one passive side per pair', () => {
  const plan = nodeBgpPlan(n2, [n1, n2, n3], [])!;
  assert.deepEqual(plan.speaker, {
    asNumber: 64512,
    bgpId: '172.31.1.2',
    listenAddress: '172.31.1.2',
    routeReflector: false,
    holdTime: 90,
    gracefulRestartTime: 120,
  });
  assert.deepEqual(plan.localPrefixes, ['10.244.2.0/24']);
  assert.deepEqual(plan.peers, [
    { address: '172.31.1.1', asNumber: 64512, localAddress: '172.31.1.2', passive: true },
    { address: '172.31.2.3', asNumber: 64512, localAddress: '172.31.1.2', passive: false },
  ]);
  // Exactly one side of each pair is passive.
  const p1 = nodeBgpPlan(n1, [n1, n2, n3], [])!.peers.find((p) => p.address === '172.31.1.2')!;
  assert.equal(p1.passive, false);
});

test('bgp cluster: route reflectors by label; BGPPeers by node selector', () => {
  const rr = node('rr', '172.31.1.9', '10.244.9.0/24', { 'podnet.io/route-reflector': 'true' });
  const all = [n1, n2, n3, rr];
  const rrPlan = nodeBgpPlan(rr, all, [])!;
  assert.equal(rrPlan.speaker.routeReflector, true);
  assert.deepEqual(
    rrPlan.peers.map((p) => [p.address, p.rrClient]),
    [
      ['172.31.1.1', true],
      ['172.31.1.2', true],
      ['172.31.2.3', true],
    ],
  );
  // A client peers with the reflector only.
  assert.deepEqual(
    nodeBgpPlan(n1, all, [])!.peers.map((p) => p.address),
    ['172.31.1.9'],
  );
  const withTor = nodeBgpPlan(n1, [n1, n2], [torZ1], { asNumber: 64600 })!;
  assert.deepEqual(withTor.peers, [
    { address: '172.31.1.2', asNumber: 64600, localAddress: '172.31.1.1', passive: false },
    { address: '172.31.1.254', asNumber: 65000, localAddress: '172.31.1.1' },
  ]);
  const otherZone = node('n4', '172.31.2.4', '10.244.4.0/24', {
    'topology.kubernetes.io/zone': 'z2',
  });
  assert.equal(nodeBgpPlan(otherZone, [otherZone], [torZ1])!.peers.length, 0);
  // No address yet: no plan.
  assert.equal(nodeBgpPlan({ ...n1, status: {} }, [n1], []), undefined);
});

test('bgp cluster: learnt routes become the Nodes routing installs', () => {
  const learned = new Map([
    ['10.244.2.0/24', { nextHop: '172.31.1.2' }],
    ['10.244.3.0/24', { nextHop: '172.31.1.254' }],
    ['10.244.7.0/24', { nextHop: '172.31.1.254' }],
  ]);
  const nodes = routedNodes(n1, [n1, n2, n3], learned);
  assert.equal(nodes[0], n1);
  assert.deepEqual(
    nodes
      .slice(1)
      .map((n) => [
        n.metadata.name,
        n.spec.podCIDR,
        n.status!.addresses![0]!.address,
        n.metadata.labels?.['topology.kubernetes.io/zone'],
      ]),
    [
      ['n2', '10.244.2.0/24', '172.31.1.2', 'z1'],
      // Routes through a router (eBGP next hop self) are reached directly in our zone.
      ['bgp-172.31.1.254', '10.244.3.0/24', '172.31.1.254', 'z1'],
      ['bgp-172.31.1.254-1', '10.244.7.0/24', '172.31.1.254', 'z1'],
    ],
  );
});

test('bgp cluster: nodeToNodeMesh false leaves only BGPPeer routers (the top-of-rack design)', () => {
  const plan = nodeBgpPlan(n1, [n1, n2, n3], [torZ1], { nodeToNodeMesh: false })!;
  assert.deepEqual(plan.peers, [
    { address: '172.31.1.254', asNumber: 65000, localAddress: '172.31.1.1' },
  ]);
  // A node outside the selector has no peer at all.
  const z2 = node('n3', '172.31.2.3', '10.244.3.0/24', { 'topology.kubernetes.io/zone': 'z2' });
  assert.deepEqual(nodeBgpPlan(z2, [n1, n2, z2], [torZ1], { nodeToNodeMesh: false })!.peers, []);
  // Route reflectors still peer with their clients when the mesh is off.
  const rr = node('rr', '172.31.1.9', '10.244.9.0/24', { 'podnet.io/route-reflector': 'true' });
  const clientPeers = nodeBgpPlan(n1, [n1, n2, rr], [], { nodeToNodeMesh: false })!.peers;
  assert.deepEqual(
    clientPeers.map((p) => p.address),
    ['172.31.1.9'],
  );
});

test('bgp cluster: routed Nodes carry no resourceVersion, so heartbeats change nothing', () => {
  const beating = { ...n2, metadata: { ...n2.metadata, resourceVersion: '42' } };
  const learned = new Map([['10.244.2.0/24', { nextHop: '172.31.1.2' }]]);
  const a = routedNodes(n1, [n1, beating], learned);
  const b = routedNodes(
    n1,
    [n1, { ...beating, metadata: { ...beating.metadata, resourceVersion: '43' } }],
    learned,
  );
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  assert.equal(a[1]!.metadata.resourceVersion, undefined);
});

test("bgp cluster: peers sort by address value; malformed addresses are the Node's data errors", () => {
  const n9 = node('n9', '172.31.1.9', '10.244.9.0/24');
  const n10 = node('n10', '172.31.1.10', '10.244.10.0/24');
  const plan = nodeBgpPlan(n1, [n1, n10, n9], [])!;
  assert.deepEqual(
    plan.peers.map((p) => p.address),
    ['172.31.1.9', '172.31.1.10'],
  );
  const isDataError = (message: string) => (e: Error) =>
    e instanceof DataError && e.message === message;
  assert.throws(
    () => nodeBgpPlan(node('node-3', '172.31.1.3', '10.244.1/24'), [n1], []),
    isDataError(
      'Node node-3: spec.podCIDR "10.244.1/24": not an IPv4 or IPv6 prefix (expected e.g. 10.244.0.0/16)',
    ),
  );
  assert.throws(
    () => nodeBgpPlan(n1, [n1, node('node-4', '172.31.01.4', '10.244.4.0/24')], []),
    isDataError('Node node-4: InternalIP "172.31.01.4": not an IPv4 or IPv6 address'),
  );
});

/** A dual-stack node: an IPv6 pod subnet and an IPv6 InternalIP beside the IPv4 ones. */
function dualNode(name: string, ip: string, podCIDR: string, ipv6: string, podCIDR6: string): Node {
  const n = node(name, ip, podCIDR);
  return {
    ...n,
    spec: { podCIDR, podCIDRs: [podCIDR, podCIDR6] },
    status: { addresses: [...n.status!.addresses!, { type: 'InternalIP', address: ipv6 }] },
  };
}

const d1 = dualNode('n1', '172.31.1.1', '10.244.1.0/24', 'fd00:172:31:1::1', 'fd00:10:244:1::/64');
const d2 = dualNode('n2', '172.31.1.2', '10.244.2.0/24', 'fd00:172:31:1::2', 'fd00:10:244:2::/64');

test('bgp cluster: a dual-stack node offers IPv6 unicast and originates both subnets', () => {
  const plan = nodeBgpPlan(d1, [d1, d2], [])!;
  assert.equal(plan.speaker.ipv6Unicast, true);
  assert.equal(plan.speaker.ipv6NextHop, 'fd00:172:31:1::1');
  assert.deepEqual(plan.localPrefixes, ['10.244.1.0/24', 'fd00:10:244:1::/64']);
  // Without an IPv6 address to be the next hop, it listens for IPv6 but originates none.
  const noAddress = { ...d1, status: n1.status };
  const bare = nodeBgpPlan(noAddress, [noAddress, d2], [])!;
  assert.equal(bare.speaker.ipv6Unicast, true);
  assert.equal(bare.speaker.ipv6NextHop, undefined);
  assert.deepEqual(bare.localPrefixes, ['10.244.1.0/24']);
});

test("bgp cluster: learnt IPv6 routes ride on Nodes, their owner's first", () => {
  const learned = new Map([
    ['10.244.2.0/24', { nextHop: '172.31.1.2' }],
    ['fd00:10:244:2::/64', { nextHop: 'fd00:172:31:1::2' }],
    ['10.244.3.0/24', { nextHop: '172.31.1.254' }],
    // The router passes n4's IPv4 next hop on but gives its own for IPv6 (as FRR does).
    ['10.244.4.0/24', { nextHop: '172.31.1.4' }],
    ['fd00:10:244:3::/64', { nextHop: 'fd00:172:31:1::fe' }],
    ['fd00:10:244:4::/64', { nextHop: 'fd00:172:31:1::fe' }],
    // More IPv6 prefixes than IPv4 ones to ride on: the last is not routed.
    ['fd00:10:244:7::/64', { nextHop: 'fd00:172:31:1::fe' }],
  ]);
  const d4 = dualNode(
    'n4',
    '172.31.1.4',
    '10.244.4.0/24',
    'fd00:172:31:1::4',
    'fd00:10:244:4::/64',
  );
  const nodes = routedNodes(d1, [d1, d2, d4], learned);
  assert.deepEqual(
    nodes
      .slice(1)
      .map((n) => [n.metadata.name, n.spec.podCIDRs, n.status!.addresses!.map((a) => a.address)]),
    [
      ['n2', ['10.244.2.0/24', 'fd00:10:244:2::/64'], ['172.31.1.2', 'fd00:172:31:1::2']],
      [
        'bgp-172.31.1.254',
        ['10.244.3.0/24', 'fd00:10:244:3::/64'],
        ['172.31.1.254', 'fd00:172:31:1::fe'],
      ],
      ['n4', ['10.244.4.0/24', 'fd00:10:244:4::/64'], ['172.31.1.4', 'fd00:172:31:1::fe']],
    ],
  );
});

test('bgp cluster: a removed node’s pod subnet, still passed on by a router, is not routed', () => {
  // The fabric keeps n3's path as stale for graceful restart after n3's session dropped.
  const learned = new Map([
    ['10.244.2.0/24', { nextHop: '172.31.1.2' }],
    ['10.244.3.0/24', { nextHop: '172.31.1.254' }],
    ['fd00:10:244:3::/64', { nextHop: 'fd00:31:1::fe' }],
    // A router's own prefix, outside the pod network, stays.
    ['192.168.50.0/24', { nextHop: '172.31.1.254' }],
  ]);
  const pods = ['10.244.0.0/16', 'fd00:10:244::/56'];
  assert.deepEqual(
    [...withoutRemovedNodes(learned, [n1, n2, n3], pods).keys()],
    ['10.244.2.0/24', '10.244.3.0/24', '192.168.50.0/24'],
  );
  // n3 deleted: its subnets go at once, not when the router's stale timer ends.
  assert.deepEqual(
    [...withoutRemovedNodes(learned, [n1, n2], pods).keys()],
    ['10.244.2.0/24', '192.168.50.0/24'],
  );
  // A node that is only restarting keeps its Node, so its stale paths are still routed.
  const dual = { ...n3, spec: { podCIDRs: ['10.244.3.0/24', 'fd00:10:244:3::/64'] } };
  assert.deepEqual(
    [...withoutRemovedNodes(learned, [n1, n2, dual], pods).keys()],
    [...learned.keys()],
  );
});

test('bgp cluster: on a dual-stack cluster one IPv4 session per peer carries both families', () => {
  assert.equal(sessionFamily(d1), 4);
  const plan = nodeBgpPlan(d1, [d1, d2], [])!;
  assert.equal(plan.speaker.listenAddress, '172.31.1.1');
  assert.deepEqual(
    plan.peers.map((p) => [p.address, p.localAddress]),
    [['172.31.1.2', '172.31.1.1']],
  );
  // A router known by its IPv6 address is reached over IPv6, from the node's IPv6 address.
  const tor6: BGPPeer = {
    ...torZ1,
    metadata: { name: 'tor6' },
    spec: { peerIP: 'FD00:172:31:1:0::fe', asNumber: 65000 },
  };
  assert.deepEqual(nodeBgpPlan(d1, [d1], [tor6])!.peers, [
    { address: 'fd00:172:31:1::fe', asNumber: 65000, localAddress: 'fd00:172:31:1::1' },
  ]);
});

/** A node of an IPv6-only cluster: one IPv6 pod subnet, IPv6 InternalIP (IPv4 too, maybe). */
function v6Node(name: string, ipv6: string, podCIDR: string, ipv4?: string): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'topology.kubernetes.io/zone': 'z1' } },
    spec: { podCIDR, podCIDRs: [podCIDR] },
    status: {
      addresses: [
        ...(ipv4 ? [{ type: 'InternalIP' as const, address: ipv4 }] : []),
        { type: 'InternalIP', address: ipv6 },
      ],
    },
  };
}

test('bgp cluster: on an IPv6-only cluster sessions run between the IPv6 InternalIPs', () => {
  const v1 = v6Node('n1', 'fd00:172:31:1::1', 'fd00:10:244:1::/64', '172.31.1.1');
  const v2 = v6Node('n2', 'fd00:172:31:1::2', 'fd00:10:244:2::/64', '172.31.1.2');
  assert.equal(sessionFamily(v1), 6);
  const plan = nodeBgpPlan(v1, [v1, v2], [])!;
  assert.deepEqual(plan.speaker, {
    asNumber: 64512,
    // The BGP identifier stays the node's IPv4 address where it has one.
    bgpId: '172.31.1.1',
    listenAddress: 'fd00:172:31:1::1',
    routeReflector: false,
    holdTime: 90,
    gracefulRestartTime: 120,
    ipv6Unicast: true,
    ipv6NextHop: 'fd00:172:31:1::1',
  });
  assert.deepEqual(plan.peers, [
    {
      address: 'fd00:172:31:1::2',
      asNumber: 64512,
      localAddress: 'fd00:172:31:1::1',
      passive: false,
    },
  ]);
  // The IPv6 subnet once, and no IPv4 one.
  assert.deepEqual(plan.localPrefixes, ['fd00:10:244:1::/64']);
  assert.equal(nodeBgpPlan(v2, [v1, v2], [])!.peers[0]!.passive, true);
});

test('bgp cluster: a host with no IPv4 address takes a 32-bit hash of its IPv6 one as BGP id', () => {
  const a = v6Node('a', 'fd00:172:31:1::1', 'fd00:10:244:1::/64');
  const b = v6Node('b', 'fd00:172:31:1::2', 'fd00:10:244:2::/64');
  const idA = routerId(a)!;
  const idB = routerId(b)!;
  assert.match(idA, /^\d+\.\d+\.\d+\.\d+$/);
  assert.notEqual(idA, idB);
  assert.notEqual(idA, '0.0.0.0');
  // Stable: the same address gives the same identifier on every run.
  assert.equal(routerId(v6Node('a2', 'fd00:172:31:1:0:0:0:1', 'fd00:10:244:9::/64')), idA);
  assert.equal(nodeBgpPlan(a, [a, b], [])!.speaker.bgpId, idA);
  assert.equal(routerId(v6Node('c', 'fd00::c', 'fd00:10:244:3::/64', '172.31.1.3')), '172.31.1.3');
  // No address at all: no identifier, so no plan.
  assert.equal(routerId({ ...a, status: {} }), undefined);
});

test('bgp cluster: on an IPv6-only cluster each learnt IPv6 prefix is a Node of its own', () => {
  const v1 = v6Node('n1', 'fd00:172:31:1::1', 'fd00:10:244:1::/64', '172.31.1.1');
  const v2 = v6Node('n2', 'fd00:172:31:1::2', 'fd00:10:244:2::/64', '172.31.1.2');
  const learned = new Map([
    ['fd00:10:244:1::/64', { nextHop: 'fd00:172:31:1::1' }],
    ['fd00:10:244:2::/64', { nextHop: 'fd00:172:31:1::2' }],
    ['fd00:10:244:3::/64', { nextHop: 'fd00:172:31:1::fe' }],
  ]);
  const nodes = routedNodes(v1, [v1, v2], learned);
  assert.equal(nodes[0], v1);
  assert.deepEqual(
    nodes
      .slice(1)
      .map((n) => [
        n.metadata.name,
        n.spec.podCIDR,
        n.spec.podCIDRs,
        n.status!.addresses!.map((a) => a.address),
      ]),
    [
      ['n2', 'fd00:10:244:2::/64', ['fd00:10:244:2::/64'], ['fd00:172:31:1::2']],
      [
        'bgp-fd00:172:31:1::fe',
        'fd00:10:244:3::/64',
        ['fd00:10:244:3::/64'],
        ['fd00:172:31:1::fe'],
      ],
    ],
  );
});
