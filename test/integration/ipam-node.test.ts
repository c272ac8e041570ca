// Node registration and subnet leases with real agents in namespaces sharing a sqlite store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABEL_HOSTNAME, LABEL_ZONE, type ClusterNetwork } from '../../src/api/types.js';
import { SUBNET_LEASE_PREFIX, releaseNodeSubnets } from '../../src/ipam/subnet-lease.js';
import { createObject, deleteObject, getObject } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { startAgentNode, waitFor, type AgentNode } from '../helpers/cni-node.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';

const MAIN = new URL('../../src/cli/main.js', import.meta.url).pathname;
let dir: string;
let storeUrl: string;
let store: Store;
const namespaces: string[] = [];
const agents: AgentNode[] = [];

function hostNamespace(): string {
  const ns = uniqueName('h');
  execFileSync('ip', ['netns', 'add', ns]);
  namespaces.push(ns);
  return ns;
}

async function agent(
  name: string,
  nodeIP: string,
  env?: Record<string, string>,
): Promise<AgentNode> {
  const a = await startAgentNode({
    name,
    netns: hostNamespace(),
    storeUrl,
    nodeIP,
    stateDir: join(dir, name),
    zone: 'z1',
    env,
  });
  agents.push(a);
  return a;
}

before(async () => {
  sweepStaleNamespaces();
  dir = mkdtempSync(join(tmpdir(), 'podnet-node-test-'));
  storeUrl = `sqlite:${join(dir, 'store.db')}`;
  store = await openStore(storeUrl);
  // A small cluster CIDR: two /24 node subnets.
  const net: ClusterNetwork = {
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: {
      clusterCIDR: '10.250.0.0/23',
      nodeSubnetPrefix: 24,
      serviceCIDR: '10.96.0.0/16',
      dnsIP: '10.96.0.10',
      domain: 'cluster.local',
      backend: 'host-gw',
      proxyMode: 'iptables',
      routing: 'store',
      mtu: 1500,
    },
  };
  await createObject(store, net);
});

after(async () => {
  for (const a of agents) await a.stop('SIGKILL');
  namespaces.forEach(deleteNamespace);
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('ipam-node: nodes register with distinct subnets, labels, InternalIP and Ready', async () => {
  const a = await agent('node-a', '172.31.1.1', { PODNET_SUBNET_LEASE_TTL: '4' });
  const b = await agent('node-b', '172.31.1.2');
  const na = await getObject(store, 'Node', undefined, 'node-a');
  const nb = await getObject(store, 'Node', undefined, 'node-b');
  assert.ok(na?.spec.podCIDR && nb?.spec.podCIDR);
  assert.notEqual(na.spec.podCIDR, nb.spec.podCIDR);
  assert.match(na.spec.podCIDR, /^10\.250\.[01]\.0\/24$/);
  assert.deepEqual(na.spec.podCIDRs, [na.spec.podCIDR]);
  assert.equal(na.metadata.labels?.[LABEL_HOSTNAME], 'node-a');
  assert.equal(na.metadata.labels?.[LABEL_ZONE], 'z1');
  assert.deepEqual(na.status?.addresses?.[0], { type: 'InternalIP', address: '172.31.1.1' });
  await waitFor('node-a Ready=True', 15_000, async () => {
    const n = await getObject(store, 'Node', undefined, 'node-a');
    return n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  });
  // The MTU the pods get is the ClusterNetwork's (host-gw: no encapsulation).
  const [pod] = [uniqueName('mtu')];
  execFileSync('ip', ['netns', 'add', pod!]);
  namespaces.push(pod!);
  const r = await a.call(
    { command: 'ADD', containerID: 'mtu-1', netns: `/run/netns/${pod}` },
    { cniVersion: '1.1.0' },
  );
  assert.equal((r.json?.interfaces as { mtu: number }[])[1]!.mtu, 1500);
  assert.equal((await a.call({ command: 'DEL', containerID: 'mtu-1', netns: '' })).code, 0);

  // With a 4 s TTL the lease outlives several TTLs only because it is renewed.
  await new Promise((r) => setTimeout(r, 9000));
  const { items } = await store.list(SUBNET_LEASE_PREFIX);
  assert.deepEqual(items.map((kv) => JSON.parse(kv.value).node).sort(), ['node-a', 'node-b']);
  void b;
});

test('ipam-node: a full cluster CIDR is a clear error naming it and how many nodes fit', () => {
  const ns = hostNamespace();
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'node',
      MAIN,
      '--store',
      storeUrl,
      'agent',
      '--node',
      'node-c',
      '--state-dir',
      join(dir, 'node-c'),
      '--socket',
      join(dir, 'node-c.sock'),
      '--metrics',
      '127.0.0.1:9101',
      '--node-ip',
      '172.31.1.3',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /cluster CIDR 10\.250\.0\.0\/23 has no free \/24 node subnet: it fits 2 nodes/,
  );
});

test('ipam-node: a restarted node gets its subnet back; a deleted node frees it', async () => {
  const a = agents.find((x) => x.name === 'node-a')!;
  const before = (await getObject(store, 'Node', undefined, 'node-a'))!.spec.podCIDR;
  await a.stop('SIGKILL');
  await a.restart();
  assert.equal((await getObject(store, 'Node', undefined, 'node-a'))!.spec.podCIDR, before);

  // `podnet delete node node-a` with node-a's agent down: node-b's agent frees the subnet.
  await a.stop('SIGTERM');
  await deleteObject(store, 'Node', undefined, 'node-a');
  await waitFor('the subnet of node-a to be freed', 10_000, async () => {
    const { items } = await store.list(SUBNET_LEASE_PREFIX);
    return items.every((kv) => JSON.parse(kv.value).node !== 'node-a');
  });
  assert.deepEqual(await releaseNodeSubnets(store, 'node-a'), []);
  const { items } = await store.list(SUBNET_LEASE_PREFIX);
  assert.deepEqual(
    items.map((kv) => JSON.parse(kv.value).node),
    ['node-b'],
  );
});
