// Single-object writes (the API server's create and update) through the registry: the same
// admission as applyManifest, refusals the caller can answer with a status code, dry runs that
// write nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CLUSTER_NETWORK, type Pod, type Service } from '../../src/api/types.js';
import { WriteRefusedError, createOne, replaceOne } from '../../src/registry/write.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { getObject } from '../../src/store/objects.js';
import { UsageError } from '../../src/util/errors.js';

const network = DEFAULT_CLUSTER_NETWORK;

const svc = (name: string): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] },
});

const pod = (name: string, ns = 'default'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns },
  spec: { containers: [{ name: 'c' }] },
});

async function dump(store: Store) {
  return (await store.list('/')).items.map((kv) => [kv.key, kv.value]);
}

test('create: identity, generation 1, a cluster IP from the allocator; a second create is refused', async () => {
  const store = await openStore('sqlite::memory:');
  const created = (await createOne(store, svc('web'), { network })) as Service;
  assert.ok(created.metadata.uid);
  assert.equal(created.metadata.generation, 1);
  assert.match(created.spec.clusterIP!, /^10\.96\./);
  assert.ok(await getObject(store, 'Namespace', undefined, 'default'), 'system namespace made');
  await assert.rejects(
    createOne(store, svc('web'), { network }),
    (e: WriteRefusedError) => e.reason === 'exists',
  );
  await store.close();
});

test('a taken name is refused first, before what admission would say, and leaves nothing behind', async () => {
  const store = await openStore('sqlite::memory:');
  const created = (await createOne(store, svc('web'), { network })) as Service;
  const before = await dump(store);
  // The same name asking for the cluster IP that the existing Service holds.
  const again = svc('web');
  again.spec.clusterIP = created.spec.clusterIP;
  await assert.rejects(
    createOne(store, again, { network }),
    (e: WriteRefusedError) => e.reason === 'exists',
  );
  await assert.rejects(
    createOne(store, svc('web'), { network, dryRun: true }),
    (e: WriteRefusedError) => e.reason === 'exists',
  );
  assert.deepEqual(await dump(store), before);
  // Another name asking for that IP is refused by admission instead.
  const other = svc('other');
  other.spec.clusterIP = created.spec.clusterIP;
  await assert.rejects(createOne(store, other, { network }), UsageError);
  assert.deepEqual(await dump(store), before);
  await store.close();
});

test('create refuses a namespace that does not exist; a dry run writes nothing', async () => {
  const store = await openStore('sqlite::memory:');
  await assert.rejects(createOne(store, pod('p', 'nowhere'), { network }), UsageError);
  const before = await dump(store);
  const dry = await createOne(store, svc('web'), { network, dryRun: true });
  assert.equal(dry.metadata.name, 'web');
  assert.deepEqual(await dump(store), before);
  await store.close();
});

test('replace: a stale resourceVersion is a conflict; labels are replaced, status and clusterIP kept', async () => {
  const store = await openStore('sqlite::memory:');
  const created = (await createOne(store, svc('web'), { network })) as Service;
  const edited = structuredClone(created);
  edited.metadata.labels = { a: 'b' };
  delete edited.spec.clusterIP;
  delete edited.spec.clusterIPs;
  const written = (await replaceOne(store, edited, { network, part: 'main' })) as Service;
  assert.deepEqual(written.metadata.labels, { a: 'b' });
  assert.equal(written.spec.clusterIP, created.spec.clusterIP);
  assert.equal(written.metadata.generation, 1, 'the spec is the same once allocations are kept');
  await assert.rejects(
    replaceOne(store, edited, { network, part: 'main' }),
    (e: WriteRefusedError) => e.reason === 'changed',
  );
  const newer = structuredClone(written);
  newer.spec.ports = [{ port: 81, protocol: 'TCP', targetPort: 81 }];
  const bumped = await replaceOne(store, newer, { network, part: 'main' });
  assert.equal(bumped.metadata.generation, 2);
  await store.close();
});

test('replace of the status writes only the status; the main part leaves it alone', async () => {
  const store = await openStore('sqlite::memory:');
  const created = (await createOne(store, pod('p'), { network })) as Pod;
  const withStatus = {
    ...created,
    status: { phase: 'Running' as const },
    metadata: { ...created.metadata, labels: { x: 'y' } },
  };
  const afterStatus = (await replaceOne(store, withStatus, { network, part: 'status' })) as Pod;
  assert.equal(afterStatus.status?.phase, 'Running');
  assert.equal(afterStatus.metadata.labels, undefined);
  const noStatus = structuredClone(afterStatus);
  delete noStatus.status;
  const afterMain = (await replaceOne(store, noStatus, { network, part: 'main' })) as Pod;
  assert.equal(afterMain.status?.phase, 'Running');
  await assert.rejects(
    replaceOne(store, pod('absent'), { network, part: 'main' }),
    (e: WriteRefusedError) => e.reason === 'not-found',
  );
  await store.close();
});
