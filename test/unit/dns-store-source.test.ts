import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../src/api/types.js';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { storeSource } from '../../src/dns/store-source.js';
import { createLogger } from '../../src/util/log.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { fixtureObjects, service } from '../helpers/dns-fixtures.js';

function keyOf(o: KubeObject): string {
  const plural = `${o.kind.toLowerCase()}s`; // namespaces, services, pods
  return o.metadata.namespace
    ? `/podnet/${plural}/${o.metadata.namespace}/${o.metadata.name}`
    : `/podnet/${plural}/${o.metadata.name}`;
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const log = createLogger('test', {});

test('dns store source: first list, then every put and delete reaches the index', async () => {
  const store = new MemoryStore();
  for (const o of fixtureObjects()) await store.put(keyOf(o), JSON.stringify(o));
  await store.put('/podnet/nodes/node-1', '{"kind":"Node"}'); // not DNS's business
  const index = new ClusterIndex('cluster.local');
  const source = await storeSource(store)(index, log);
  try {
    assert.equal(index.synced, true);
    assert.equal(index.service('my-namespace', 'my-svc')?.kind, 'ClusterIP');
    const fresh = service('my-namespace', 'fresh', { clusterIP: '10.96.0.77' });
    await store.put(keyOf(fresh), JSON.stringify(fresh));
    await until(() => index.service('my-namespace', 'fresh') !== undefined);
    await store.delete(keyOf(fresh));
    await until(() => index.service('my-namespace', 'fresh') === undefined);
  } finally {
    await source.stop();
  }
});

test('dns store source: a compacted watch lists again and misses nothing', async () => {
  const store = new MemoryStore();
  for (const o of fixtureObjects()) await store.put(keyOf(o), JSON.stringify(o));
  const index = new ClusterIndex('cluster.local');
  const source = await storeSource(store, 10)(index, log);
  try {
    store.compactAndBreakWatches();
    const late = service('my-namespace', 'late', { clusterIP: '10.96.0.78' });
    await store.put(keyOf(late), JSON.stringify(late));
    const mySvc = fixtureObjects().find((o) => o.metadata.name === 'my-svc')!;
    await store.delete(keyOf(mySvc));
    await until(() => index.service('my-namespace', 'late') !== undefined);
    await until(() => index.service('my-namespace', 'my-svc') === undefined);
    assert.ok(store.lists >= 2, 'listed again');
  } finally {
    await source.stop();
  }
});
