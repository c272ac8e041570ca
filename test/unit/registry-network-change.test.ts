import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_CLUSTER_NETWORK,
  type ClusterNetwork,
  type Node,
  type Pod,
  type Service,
} from '../../src/api/types.js';
import { parseManifests } from '../../src/api/manifest.js';
import { applyManifest } from '../../src/registry/apply.js';
import { connectivityCuts, type RunningNetwork } from '../../src/registry/network-change.js';
import { listObjects } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import { UsageError } from '../../src/util/errors.js';

type Spec = ClusterNetwork['spec'];
const current: Spec = DEFAULT_CLUSTER_NETWORK;

const node = (name: string, podCIDRs: string[]): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: { podCIDR: podCIDRs[0], podCIDRs },
});

const pod = (
  name: string,
  ips: string[],
  phase: NonNullable<Pod['status']>['phase'] = 'Running',
): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'i' }] },
  status: { phase, podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
});

const service = (name: string, clusterIPs: string[]): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { clusterIP: clusterIPs[0], clusterIPs, ports: [{ port: 80 }] },
});

const running = (over: Partial<RunningNetwork> = {}): RunningNetwork => ({
  nodes: [node('node-1', ['10.244.1.0/24']), node('node-2', ['10.244.2.0/24'])],
  pods: [pod('web-1', ['10.244.1.5']), pod('web-2', ['10.244.2.7'])],
  services: [service('web', ['10.96.0.20'])],
  underlayMTUs: new Map([
    ['node-1', 1500],
    ['node-2', 1500],
  ]),
  ...over,
});

test('network change: a change that keeps every range and fits the underlay cuts nothing', () => {
  const proposed: Spec = { ...current, backend: 'host-gw', mtu: 1450, proxyMode: 'nftables' };
  assert.deepEqual(connectivityCuts(current, proposed, running()), []);
});

test('network change: growing the pod network around the running pods cuts nothing', () => {
  const proposed: Spec = { ...current, clusterCIDR: '10.240.0.0/12' };
  assert.deepEqual(connectivityCuts(current, proposed, running()), []);
});

test('network change: a pod network that no longer holds running pods and node subnets is a cut naming them', () => {
  const proposed: Spec = { ...current, clusterCIDR: '10.245.0.0/16' };
  const cuts = connectivityCuts(current, proposed, running());
  assert.equal(cuts.length, 2);
  assert.match(cuts[0]!, /^clusterCIDRs 10\.245\.0\.0\/16 would no longer hold running pod/);
  assert.match(cuts[0]!, /default\/web-1 \(10\.244\.1\.5\), default\/web-2 \(10\.244\.2\.7\)/);
  assert.match(cuts[1]!, /subnet of node node-1 \(10\.244\.1\.0\/24\), node-2/);
});

test('network change: finished pods hold no address, and many stranded pods are counted', () => {
  const proposed: Spec = { ...current, clusterCIDR: '10.245.0.0/16' };
  const pods = [
    pod('done', ['10.244.1.9'], 'Succeeded'),
    ...[1, 2, 3, 4, 5].map((i) => pod(`p${i}`, [`10.244.1.${i}`])),
  ];
  const cuts = connectivityCuts(current, proposed, running({ pods, nodes: [] }));
  assert.equal(cuts.length, 1);
  assert.doesNotMatch(cuts[0]!, /done/);
  assert.match(cuts[0]!, /p3 \(10\.244\.1\.3\) and 2 more/);
});

test('network change: a node subnet size changed under nodes holding subnets is a cut', () => {
  const proposed: Spec = { ...current, nodeSubnetPrefix: 26 };
  const cuts = connectivityCuts(current, proposed, running());
  assert.deepEqual(cuts, [
    "nodeSubnetPrefix 24 -> 26: node node-1, node-2 hold /24 subnets, and a node's subnet cannot change under its pods; keep 24",
  ]);
  assert.deepEqual(connectivityCuts(current, proposed, running({ nodes: [], pods: [] })), []);
});

test("network change: a service network that drops a service's cluster IP is a cut", () => {
  const proposed: Spec = { ...current, serviceCIDR: '10.97.0.0/16', dnsIP: '10.97.0.10' };
  const cuts = connectivityCuts(current, proposed, running());
  assert.equal(cuts.length, 1);
  assert.match(cuts[0]!, /service default\/web \(10\.96\.0\.20\)/);
});

test("network change: an MTU above a host's underlay is a cut naming the host; an unchanged one is not", () => {
  const underlayMTUs = new Map([
    ['node-1', 1500],
    ['node-2', 1400],
  ]);
  const proposed: Spec = { ...current, mtu: 1450 };
  assert.deepEqual(connectivityCuts(current, proposed, running({ underlayMTUs })), [
    'mtu 1450 is above the underlay MTU of node-2 (1400): full-size packets would be dropped on the wire; use at most the smallest underlay MTU',
  ]);
  // Already so before the change: not this change's cut (doctor reports it).
  assert.deepEqual(
    connectivityCuts({ ...current, mtu: 1450 }, proposed, running({ underlayMTUs })),
    [],
  );
});

test('network change: dual-stack pods keep their IPv6 address only while the IPv6 range stays', () => {
  const dual: Spec = {
    ...current,
    clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  };
  const pods = [pod('web-1', ['10.244.1.5', 'fd00:10:244:1::5'])];
  const nodes = [node('node-1', ['10.244.1.0/24', 'fd00:10:244:1::/64'])];
  assert.deepEqual(connectivityCuts(dual, dual, running({ pods, nodes })), []);
  const v4only: Spec = { ...dual, clusterCIDRs: ['10.244.0.0/16'] };
  const cuts = connectivityCuts(dual, v4only, running({ pods, nodes }));
  assert.equal(cuts.length, 2);
  assert.match(cuts[0]!, /web-1 \(fd00:10:244:1::5\)/);
  assert.match(cuts[1]!, /node-1 \(fd00:10:244:1::\/64\)/);
});

test('network change: apply refuses a ClusterNetwork that strands running pods, and writes nothing', async () => {
  const store = await openStore('sqlite::memory:');
  try {
    const n = node('node-1', ['10.244.1.0/24']);
    const p = pod('web-1', ['10.244.1.5']);
    await applyManifest(store, [n], current);
    const moved = parseManifests(
      'apiVersion: podnet.io/v1\nkind: ClusterNetwork\nmetadata: {name: default}\nspec: {clusterCIDR: 10.245.0.0/16}\n',
      'network.yaml',
    ).objects;
    await applyManifest(store, [{ ...p, spec: { ...p.spec, nodeName: 'node-1' } }], current);
    await assert.rejects(
      applyManifest(store, moved, current),
      (err: Error) =>
        err instanceof UsageError &&
        /^ClusterNetwork default: clusterCIDRs 10\.245\.0\.0\/16 would no longer hold running pod/.test(
          err.message,
        ),
    );
    assert.equal((await listObjects(store, 'ClusterNetwork')).items.length, 0);
    // A change that keeps the range goes through.
    const grown = parseManifests(
      'apiVersion: podnet.io/v1\nkind: ClusterNetwork\nmetadata: {name: default}\nspec: {clusterCIDR: 10.240.0.0/12}\n',
      'network.yaml',
    ).objects;
    const [applied] = await applyManifest(store, grown, current);
    assert.equal(applied?.action, 'created');
  } finally {
    await store.close();
  }
});
