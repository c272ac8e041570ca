import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { storeSource } from '../../src/dns/store-source.js';
import { applyObject, deleteObject } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import { createLogger } from '../../src/util/log.js';
import { fixtureObjects, service } from '../helpers/dns-fixtures.js';

async function until(check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 2000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - started;
}

test('dns store source: first list, then every apply and delete reaches the index', async () => {
  const store = await openStore('sqlite::memory:');
  for (const o of fixtureObjects()) await applyObject(store, o);
  const index = new ClusterIndex('cluster.local');
  const source = await storeSource(store)(index, createLogger('test'));
  try {
    assert.equal(index.synced, true);
    assert.equal(index.service('my-namespace', 'my-svc')?.kind, 'ClusterIP');
    assert.deepEqual(
      (index.service('my-namespace', 'db') as { endpoints: { hostname: string }[] }).endpoints.map(
        (e) => e.hostname,
      ),
      ['db-0', '10-244-2-7'],
    );
    await applyObject(store, service('my-namespace', 'fresh', { clusterIP: '10.96.0.77' }));
    await until(() => index.service('my-namespace', 'fresh') !== undefined);
    await deleteObject(store, 'Service', 'my-namespace', 'fresh');
    await until(() => index.service('my-namespace', 'fresh') === undefined);
  } finally {
    await source.stop();
  }
});
