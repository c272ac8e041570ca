import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service } from '../../src/api/types.js';
import { assignNodePorts, releaseNodePorts } from '../../src/ipam/node-ports.js';
import type { Store } from '../../src/store/store.js';
import { UsageError } from '../../src/util/errors.js';
import { openStore } from '../../src/store/open.js';

const memoryStore = (): Promise<Store> => openStore('sqlite::memory:');

function nodePortService(name: string, nodePorts: (number | undefined)[]): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'shop' },
    spec: {
      type: 'NodePort',
      ports: nodePorts.map((nodePort, i) => ({ name: `p${i}`, port: 80 + i, nodePort })),
    },
  };
}

const ports = (svc: Service): (number | undefined)[] => svc.spec.ports!.map((p) => p.nodePort);

test('node ports are allocated from 30000-32767 when none is given, all different', async () => {
  const store = await memoryStore();
  const svc = await assignNodePorts(store, nodePortService('web', [undefined, undefined]));
  const [a, b] = ports(svc);
  for (const p of [a, b]) assert.ok(p! >= 30000 && p! <= 32767);
  assert.notEqual(a, b);
  assert.equal((await store.list('/podnet/nodeports/')).items.length, 2);
});

test('a given free node port is kept and reserved', async () => {
  const store = await memoryStore();
  const svc = await assignNodePorts(store, nodePortService('web', [30080]));
  assert.deepEqual(ports(svc), [30080]);
  assert.ok(await store.get('/podnet/nodeports/30080'));
});

test('a node port held by another service is refused, naming the field', async () => {
  const store = await memoryStore();
  await assignNodePorts(store, nodePortService('web', [30080]));
  await assert.rejects(
    assignNodePorts(store, nodePortService('api', [undefined, 30080])),
    (err: unknown) =>
      err instanceof UsageError &&
      /^spec\.ports\[1\]\.nodePort: 30080 is already used by service shop\/web/.test(err.message),
  );
  // Nothing half-applied: port 0 of the refused service got nothing.
  assert.equal((await store.list('/podnet/nodeports/')).items.length, 1);
});

test('a node port outside the range is refused', async () => {
  await assert.rejects(
    assignNodePorts(await memoryStore(), nodePortService('web', [8080])),
    /spec\.ports\[0\]\.nodePort: 8080 is outside the node port range 30000-32767/,
  );
});

test('applying the same service again keeps its ports', async () => {
  const store = await memoryStore();
  const first = await assignNodePorts(store, nodePortService('web', [undefined]));
  const again = await assignNodePorts(store, nodePortService('web', [undefined]));
  assert.deepEqual(ports(again), ports(first));
  const explicit = await assignNodePorts(store, nodePortService('web', ports(first)));
  assert.deepEqual(ports(explicit), ports(first));
});

test('changing a node port releases the old one; release frees all', async () => {
  const store = await memoryStore();
  await assignNodePorts(store, nodePortService('web', [30080]));
  await assignNodePorts(store, nodePortService('web', [30081]));
  assert.equal(await store.get('/podnet/nodeports/30080'), undefined);
  await assignNodePorts(store, nodePortService('api', [30080]));
  await releaseNodePorts(store, nodePortService('web', [30081]));
  assert.deepEqual(
    (await store.list('/podnet/nodeports/')).items.map((kv) => kv.key),
    ['/podnet/nodeports/30080'],
  );
});

test('a service that is not NodePort holds no node ports', async () => {
  const store = await memoryStore();
  await assignNodePorts(store, nodePortService('web', [30080]));
  const clusterIP = nodePortService('web', [undefined]);
  clusterIP.spec.type = 'ClusterIP';
  const out = await assignNodePorts(store, clusterIP);
  assert.equal(out, clusterIP);
  assert.equal((await store.list('/podnet/nodeports/')).items.length, 0);
});
