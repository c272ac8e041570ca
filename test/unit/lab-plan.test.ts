import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_LAB_OPTIONS,
  hostBatch,
  labNameProblem,
  ownsNetns,
  planLab,
  podNetns,
  underlayBatch,
  validateLabName,
  zoneOf,
} from '../../src/lab/plan.js';
import { UsageError } from '../../src/util/errors.js';
import { dnsPodsNotServing, nodesNotReady } from '../../src/lab/ready.js';
import type { EndpointSlice, Node } from '../../src/api/types.js';

test('lab plan: hosts are dealt round-robin over the zones', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((i) => zoneOf(i, 2)),
    [1, 2, 1, 2, 1],
  );
  assert.deepEqual(
    [1, 2, 3, 4].map((i) => zoneOf(i, 3)),
    [1, 2, 3, 1],
  );
  assert.deepEqual(
    [1, 2, 3].map((i) => zoneOf(i, 1)),
    [1, 1, 1],
  );
});

test("lab plan: addresses, routers and names follow the lab's address plan", () => {
  const plan = planLab('/run/podnet/labs', 'podnet', DEFAULT_LAB_OPTIONS);
  assert.equal(plan.underlayNetns, 'podnet-underlay');
  assert.equal(plan.hostStoreUrl, 'sqlite:/run/podnet/labs/podnet/store.db');
  const etcd = planLab('/run/podnet/labs', 'podnet', { ...DEFAULT_LAB_OPTIONS, store: 'etcd' });
  assert.equal(
    etcd.hostStoreUrl,
    'etcd:172.31.1.254:2379,172.31.1.253:2379,172.31.1.252:2379',
    'three members by default, counting down from zone 1 router',
  );
  assert.deepEqual(
    underlayBatch(etcd).filter((l) => l.includes('.25')),
    [
      'addr add 172.31.1.254/24 dev br1',
      'addr add 172.31.2.254/24 dev br2',
      'addr add 172.31.1.253/24 dev br1',
      'addr add 172.31.1.252/24 dev br1',
    ],
  );
  assert.deepEqual(plan.etcdMembers, [], 'no etcd with SQLite');
  assert.deepEqual(
    plan.zones.map((z) => [z.zone, z.subnet, z.router]),
    [
      ['zone-1', '172.31.1.0/24', '172.31.1.254'],
      ['zone-2', '172.31.2.0/24', '172.31.2.254'],
    ],
  );
  assert.deepEqual(
    plan.hosts.map((h) => [h.name, h.zone, h.ip, h.router, h.netns]),
    [
      ['node-1', 'zone-1', '172.31.1.1', '172.31.1.254', 'podnet-node-1'],
      ['node-2', 'zone-2', '172.31.2.2', '172.31.2.254', 'podnet-node-2'],
      ['node-3', 'zone-1', '172.31.1.3', '172.31.1.254', 'podnet-node-3'],
    ],
  );
  const h1 = plan.hosts[0]!;
  assert.equal(h1.stateDir, '/run/podnet/labs/podnet/hosts/node-1');
  assert.equal(h1.agentSocket, '/run/podnet/labs/podnet/hosts/node-1/agent.sock');
});

test('lab plan: the underlay bridges each zone and creates host veth ends inside the hosts', () => {
  const plan = planLab('/l', 'x', { ...DEFAULT_LAB_OPTIONS, nodes: 2 });
  const lines = underlayBatch(plan);
  assert.ok(lines.includes('addr add 172.31.2.254/24 dev br2'));
  assert.ok(lines.includes('link add h2 type veth peer name eth0 netns x-node-2'));
  assert.ok(lines.includes('link set h2 master br2'));
  assert.deepEqual(hostBatch(plan.hosts[1]!), [
    'link set lo up',
    'addr add 172.31.2.2/24 dev eth0',
    'link set eth0 up',
    'route add default via 172.31.2.254 dev eth0',
  ]);
});

test('lab plan: lab names are short interface-name fragments', () => {
  for (const good of ['podnet', 'a', 'pnt-2ivo0-1f2e', 'lab-2']) {
    assert.equal(labNameProblem(good), undefined, good);
  }
  for (const bad of ['', 'Podnet', 'a_b', '-a', 'a-', 'a b', 'abcdefghijklmnop', 'x-node-1']) {
    assert.notEqual(labNameProblem(bad), undefined, bad);
  }
  assert.throws(() => validateLabName('Bad'), UsageError);
});

test('lab plan: pod namespaces are named after the pod, hashed when too long', () => {
  assert.equal(podNetns('podnet', 'node-1', 'default', 'web'), 'podnet-node-1-default-web');
  const long = podNetns('podnet', 'node-1', 'default', 'x'.repeat(80));
  assert.match(long, /^podnet-node-1-p[0-9a-f]{16}$/);
  assert.equal(long, podNetns('podnet', 'node-1', 'default', 'x'.repeat(80)));
  assert.notEqual(long, podNetns('podnet', 'node-1', 'other', 'x'.repeat(80)));
});

test('lab plan: a lab owns exactly its underlay, hosts and pods', () => {
  assert.ok(ownsNetns('lab', 'lab-underlay'));
  assert.ok(ownsNetns('lab', 'lab-node-1'));
  assert.ok(ownsNetns('lab', 'lab-node-12-default-web'));
  assert.ok(!ownsNetns('lab', 'lab2-node-1'));
  assert.ok(!ownsNetns('lab', 'lab-x-node-1'));
  assert.ok(!ownsNetns('lab', 'other-underlay'));
  assert.ok(!ownsNetns('lab', 'lab-nodes'));
});

test('lab readiness: every host has a Node whose Ready condition is True', () => {
  const node = (name: string, status?: 'True' | 'False'): Node => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: {},
    ...(status ? { status: { conditions: [{ type: 'Ready', status }] } } : {}),
  });
  const hosts = ['node-1', 'node-2', 'node-3'];
  assert.deepEqual(
    nodesNotReady([node('node-1', 'True'), node('node-2', 'True'), node('node-3', 'True')], hosts),
    [],
  );
  assert.deepEqual(nodesNotReady([node('node-1', 'True'), node('node-2', 'False')], hosts), [
    'node-2 (Ready=False)',
    'node-3 (no Node object yet)',
  ]);
  assert.deepEqual(nodesNotReady([node('node-1')], ['node-1']), ['node-1 (Ready=unknown)']);
});

test('lab plan: the cluster DNS serves once each of its pods is a ready endpoint of kube-dns', () => {
  const slice = (service: string, endpoints: [string, boolean][]): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-x`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: endpoints.map(([pod, ready], i) => ({
      addresses: [`10.244.${i}.2`],
      conditions: { ready },
      targetRef: { kind: 'Pod', name: pod, namespace: 'kube-system' },
    })),
  });
  const pods = ['coredns-0', 'coredns-1'];
  assert.deepEqual(dnsPodsNotServing([], 'kube-dns', pods), [
    'coredns-0 (not a ready endpoint yet)',
    'coredns-1 (not a ready endpoint yet)',
  ]);
  const oneReady = slice('kube-dns', [
    ['coredns-0', true],
    ['coredns-1', false],
  ]);
  assert.deepEqual(dnsPodsNotServing([oneReady], 'kube-dns', pods), [
    'coredns-1 (not a ready endpoint yet)',
  ]);
  const elsewhere = slice('other', [['coredns-1', true]]);
  assert.equal(dnsPodsNotServing([oneReady, elsewhere], 'kube-dns', pods).length, 1);
  const both = slice('kube-dns', [
    ['coredns-0', true],
    ['coredns-1', true],
  ]);
  assert.deepEqual(dnsPodsNotServing([both], 'kube-dns', pods), []);
});

test('lab plan: zones default to two (or one per host) and more zones than hosts are refused', async () => {
  const { zonesFor } = await import('../../src/lab/plan.js');
  assert.equal(zonesFor(3, undefined), 2);
  assert.equal(zonesFor(1, undefined), 1);
  assert.equal(zonesFor(2, 2), 2);
  assert.throws(
    () => zonesFor(2, 5),
    (err: unknown) =>
      err instanceof UsageError &&
      /^--zones 5: more zones than hosts \(--nodes 2\) would leave 3 zone\(s\) empty/.test(
        err.message,
      ),
  );
});
