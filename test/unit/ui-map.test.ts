// The map's data: zones → hosts → pods, services in front of their ready pods, how each pair of
// hosts is carried, BGP sessions, health with its fix, the patches sent to browsers, and where
// trace hops land.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_CLUSTER_NETWORK,
  type ClusterNetwork,
  type EndpointSlice,
  type Node,
  type Pod,
  type Service,
} from '../../src/api/types.js';
import type { NodeBgpStatus } from '../../src/bgp/status-store.js';
import { buildMap, diffMap, MapMemo, type MapInput } from '../../src/ui/server/map-model.js';
import { placeHops } from '../../src/ui/server/trace-overlay.js';
import { makeNode } from '../helpers/routing-nodes.js';

function ready(node: Node, status: 'True' | 'False' = 'True'): Node {
  return { ...node, status: { ...node.status, conditions: [{ type: 'Ready', status }] } };
}

const nodes = [
  ready(makeNode('node-1', '10.244.1.0/24', '172.31.1.1', { zone: 'zone-1' })),
  ready(makeNode('node-2', '10.244.2.0/24', '172.31.2.1', { zone: 'zone-2' })),
  ready(makeNode('node-3', '10.244.3.0/24', '172.31.1.2', { zone: 'zone-1' })),
];

function pod(name: string, node: string, ip: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'demo', labels: { app: name.startsWith('echo') ? 'echo' : name } },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }] },
    status: { phase: 'Running', podIP: ip },
  };
}

const pods = [
  pod('echo-1', 'node-1', '10.244.1.2'),
  pod('echo-2', 'node-2', '10.244.2.2'),
  pod('client', 'node-1', '10.244.1.3'),
];

const service: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'my-svc', namespace: 'demo' },
  spec: { clusterIP: '10.96.0.20', selector: { app: 'echo' }, ports: [{ port: 80 }] },
};

const slice: EndpointSlice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name: 'my-svc-abc',
    namespace: 'demo',
    labels: { 'kubernetes.io/service-name': 'my-svc' },
  },
  addressType: 'IPv4',
  endpoints: [
    {
      addresses: ['10.244.1.2'],
      conditions: { ready: true },
      targetRef: { kind: 'Pod', namespace: 'demo', name: 'echo-1' },
    },
    {
      addresses: ['10.244.2.2'],
      conditions: { ready: false },
      targetRef: { kind: 'Pod', namespace: 'demo', name: 'echo-2' },
    },
  ],
};

function input(over: Partial<MapInput> = {}): MapInput {
  return {
    network: DEFAULT_CLUSTER_NETWORK,
    nodes,
    pods,
    services: [service],
    slices: [slice],
    bgp: [],
    findings: new Map(),
    ...over,
  };
}

const byId = (m: ReturnType<typeof buildMap>) => new Map(m.map((e) => [e.id, e]));

test('ui map: zones hold hosts, hosts hold pods, and the service points at its ready pods only', () => {
  const map = byId(buildMap(input()));
  assert.deepEqual(
    [...map.values()].filter((e) => e.kind === 'zone').map((e) => e.label),
    ['zone-1', 'zone-2'],
  );
  assert.equal(map.get('host/node-2')!.parent, 'zone/zone-2');
  assert.equal(map.get('host/node-3')!.parent, 'zone/zone-1');
  assert.equal(map.get('pod/demo/client')!.parent, 'host/node-1');
  const endpoints = [...map.values()].filter((e) => e.kind === 'endpoint');
  assert.deepEqual(
    endpoints.map((e) => [e.source, e.target]),
    [['svc/demo/my-svc', 'pod/demo/echo-1']],
  );
  assert.equal(map.get('svc/demo/my-svc')!.fields.endpoints, 'echo-1');
});

test('ui map: a service that selects pods but has none ready is marked, with why', () => {
  const map = byId(buildMap(input({ slices: [] })));
  assert.equal(map.get('svc/demo/my-svc')!.health, 'warn');
  assert.match(map.get('svc/demo/my-svc')!.hint!, /no ready endpoints/);
});

test('ui map: with backend auto, hosts in one zone are joined by a direct route and across zones by VXLAN', () => {
  const map = byId(buildMap(input()));
  assert.equal(map.get('link/node-1/node-3')!.label, 'direct route');
  assert.equal(map.get('link/node-1/node-2')!.label, 'VXLAN');
  assert.equal(map.get('link/node-2/node-3')!.label, 'VXLAN');
});

test('ui map: each backend names its carrier; cloud routes and BGP say when a pair has no way yet', () => {
  const net = (spec: Partial<ClusterNetwork['spec']>) => ({ ...DEFAULT_CLUSTER_NETWORK, ...spec });
  const label = (spec: Partial<ClusterNetwork['spec']>, over: Partial<MapInput> = {}) =>
    byId(buildMap(input({ network: net(spec), ...over }))).get('link/node-1/node-2')!;
  assert.equal(label({ backend: 'host-gw' }).label, 'direct route');
  assert.equal(label({ backend: 'ipip' }).label, 'IP-in-IP');
  assert.equal(label({ backend: 'vxlan' }).label, 'VXLAN');
  const placed = (n: Node, how: string): Node => ({
    ...n,
    metadata: { ...n.metadata, annotations: { 'podnet.io/cloud-route': how } },
  });
  const cloud = (a: string, b: string) =>
    label({ backend: 'cloud' }, { nodes: [placed(nodes[0]!, a), placed(nodes[1]!, b), nodes[2]!] });
  assert.equal(cloud('routed', 'routed').label, 'cloud route');
  assert.equal(cloud('routed', 'overflow').label, 'VXLAN (cloud overflow)');
  assert.equal(cloud('routed', 'refused').health, 'warn');
  const status = (node: string, prefix: string): NodeBgpStatus => ({
    node,
    updatedAt: '2026-01-01T00:00:00Z',
    peers: [],
    routes: [{ prefix, nextHop: '172.31.1.254' }],
  });
  const bgp = [status('node-1', '10.244.2.0/24'), status('node-2', '10.244.1.0/24')];
  assert.equal(label({ routing: 'bgp' }, { bgp }).label, 'BGP-learned, VXLAN');
  const half = label({ routing: 'bgp' }, { bgp: bgp.slice(0, 1) });
  assert.equal(half.health, 'warn');
  assert.match(half.label, /not learned/);
});

test('ui map: BGP sessions join two hosts, or stay on their host for a router outside, with their state', () => {
  const peer = (address: string, state: 'Established' | 'Active') => ({
    address,
    asNumber: 64512,
    kind: 'ibgp' as const,
    rrClient: false,
    state,
    prefixesReceived: 1,
    prefixesAdvertised: 1,
    prefixesRejected: 0,
    stalePrefixes: 0,
    messagesIn: 1,
    messagesOut: 1,
  });
  const map = byId(
    buildMap(
      input({
        bgp: [
          {
            node: 'node-1',
            updatedAt: '2026-01-01T00:00:00Z',
            peers: [peer('172.31.2.1', 'Established'), peer('172.31.1.254', 'Active')],
          } as NodeBgpStatus,
        ],
      }),
    ),
  );
  const toNode = map.get('bgp/node-1/172.31.2.1')!;
  assert.deepEqual(
    [toNode.source, toNode.target, toNode.health],
    ['host/node-1', 'host/node-2', 'ok'],
  );
  const toRouter = map.get('bgp/node-1/172.31.1.254')!;
  assert.deepEqual([toRouter.target, toRouter.health], ['host/node-1', 'bad']);
  assert.match(toRouter.hint!, /Active/);
});

test('ui map: a NotReady node is bad, a doctor finding is a warning, and each says its fix', () => {
  const map = byId(
    buildMap(
      input({
        nodes: [ready(nodes[0]!, 'False'), nodes[1]!, nodes[2]!],
        findings: new Map([
          [
            'node-2',
            [{ check: 'ip_forward', detail: 'off', fix: 'sysctl -w net.ipv4.ip_forward=1' }],
          ],
        ]),
      }),
    ),
  );
  assert.equal(map.get('host/node-1')!.health, 'bad');
  assert.equal(map.get('host/node-1')!.fields.status, 'NotReady');
  assert.match(map.get('host/node-1')!.hint!, /lab repair/);
  assert.equal(map.get('host/node-2')!.health, 'warn');
  assert.match(map.get('host/node-2')!.hint!, /fix: sysctl -w net.ipv4.ip_forward=1/);
  assert.equal(map.get('host/node-3')!.health, 'ok');
});

test('ui map: the patch carries exactly what appeared, changed and went', () => {
  const before = buildMap(input());
  assert.deepEqual(diffMap(before, before), { upsert: [], remove: [] });
  const after = buildMap(input({ pods: [...pods.slice(1), pod('new', 'node-3', '10.244.3.9')] }));
  const patch = diffMap(before, after);
  assert.deepEqual(
    patch.upsert.map((e) => e.id),
    ['pod/demo/new', 'svc/demo/my-svc'],
  );
  assert.deepEqual(patch.remove, ['ep/demo/my-svc/demo/echo-1', 'pod/demo/echo-1']);
});

test('ui map: building again reuses the elements of unchanged pods and links, and only those', () => {
  const memo = new MapMemo();
  const first = byId(buildMap(input(), memo));
  const moved = pod('client', 'node-1', '10.244.1.9');
  const again = buildMap(input({ pods: [pods[0]!, pods[1]!, moved] }), memo);
  assert.deepEqual(again, buildMap(input({ pods: [pods[0]!, pods[1]!, moved] })), 'same map');
  const second = byId(again);
  assert.equal(second.get('pod/demo/echo-1'), first.get('pod/demo/echo-1'));
  assert.equal(second.get('link/node-1/node-2'), first.get('link/node-1/node-2'));
  assert.notEqual(second.get('pod/demo/client'), first.get('pod/demo/client'));
  assert.equal(second.get('pod/demo/client')!.fields.ip, '10.244.1.9');

  // A node gone: its pods lose their host, and the links are built anew without it.
  const third = byId(buildMap(input({ nodes: [nodes[0]!, nodes[2]!], pods }), memo));
  assert.equal(third.get('pod/demo/echo-2')!.parent, undefined);
  assert.equal(third.get('pod/demo/echo-1')!.parent, 'host/node-1');
  assert.equal(third.get('link/node-1/node-2'), undefined);
  assert.notEqual(third.get('link/node-1/node-3'), first.get('link/node-1/node-3'));
  // A different network is a different carrier on every link.
  const vxlan = byId(
    buildMap(
      input({
        nodes: [nodes[0]!, nodes[2]!],
        network: { ...DEFAULT_CLUSTER_NETWORK, backend: 'vxlan' },
      }),
      memo,
    ),
  );
  assert.deepEqual(
    vxlan.get('link/node-1/node-3'),
    byId(
      buildMap(
        input({
          nodes: [nodes[0]!, nodes[2]!],
          network: { ...DEFAULT_CLUSTER_NETWORK, backend: 'vxlan' },
        }),
      ),
    ).get('link/node-1/node-3'),
  );
});

test('ui trace: each hop lands on the hosts, pods and services it names, not on look-alikes', () => {
  const map = buildMap(
    input({ nodes: [...nodes, ready(makeNode('node-10', '10.244.10.0/24', '172.31.2.10'))] }),
  );
  const placed = placeHops(
    [
      {
        step: 'service',
        ok: true,
        detail: 'my-svc 10.96.0.20:80 → DNAT at random to 10.244.1.2:8080',
      },
      { step: 'route', ok: false, detail: 'node-1: no route to 10.244.2.0/24 via pn-vxlan.' },
    ],
    map,
  );
  assert.deepEqual(placed[0]!.on, ['pod/demo/echo-1', 'svc/demo/my-svc']);
  assert.deepEqual(placed[1]!.on, ['host/node-1']);
});
