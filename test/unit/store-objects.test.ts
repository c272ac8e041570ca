import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyObject,
  getClusterNetwork,
  getObject,
  listObjects,
  objectKey,
  updateObject,
  deleteObject,
} from '../../src/store/objects.js';
import { startInformer, type Change } from '../../src/store/informer.js';
import { StoreWatchError, type Store, type WatchHandlers } from '../../src/store/store.js';
import { DEFAULT_CLUSTER_NETWORK, type Pod, type Service } from '../../src/api/types.js';
import { withTempStore } from '../helpers/temp-store.js';

const pod = (name: string, ns = 'default'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels: { app: 'web' } },
  spec: { containers: [{ name: 'c' }] },
});

test('objects: keys follow /podnet/<plural>/<ns>/<name>', () => {
  assert.equal(objectKey('Pod', 'shop', 'web-1'), '/podnet/pods/shop/web-1');
  assert.equal(objectKey('Service', undefined, 'web'), '/podnet/services/default/web');
  assert.equal(objectKey('Node', undefined, 'node-1'), '/podnet/nodes/node-1');
  assert.equal(
    objectKey('ClusterNetwork', undefined, 'default'),
    '/podnet/clusternetworks/default',
  );
});

test('objects: apply creates, then keeps uid, status and allocations on re-apply', async () => {
  await withTempStore(async (store) => {
    const a = await applyObject(store, pod('web-1'));
    assert.equal(a.action, 'created');
    assert.ok(
      a.object.metadata.uid &&
        a.object.metadata.creationTimestamp &&
        a.object.metadata.resourceVersion,
    );
    assert.equal((await applyObject(store, pod('web-1'))).action, 'unchanged');
    await updateObject(store, 'Pod', 'default', 'web-1', (p) => {
      p.status = { phase: 'Running', podIP: '10.244.1.5' };
      p.spec.nodeName = 'node-1';
      return p;
    });
    const changed = pod('web-1');
    changed.metadata.labels = { app: 'web', tier: 'front' };
    const b = await applyObject(store, changed);
    assert.equal(b.action, 'configured');
    const stored = (await getObject(store, 'Pod', 'default', 'web-1'))!;
    assert.equal(stored.metadata.uid, a.object.metadata.uid);
    assert.equal(stored.status?.podIP, '10.244.1.5', 'apply keeps the status agents wrote');
    assert.equal(stored.spec.nodeName, 'node-1');
    assert.equal(stored.metadata.labels?.tier, 'front');
    assert.equal(stored.metadata.resourceVersion, b.object.metadata.resourceVersion);

    const svc: Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'default' },
      spec: { clusterIP: '10.96.0.20', ports: [{ port: 80 }], selector: { app: 'web' } },
    };
    await applyObject(store, svc);
    const again = structuredClone(svc);
    delete again.spec.clusterIP;
    await applyObject(store, again);
    assert.equal(
      (await getObject(store, 'Service', 'default', 'web'))!.spec.clusterIP,
      '10.96.0.20',
    );
    again.spec.clusterIP = '10.96.0.21';
    await assert.rejects(applyObject(store, again), /spec\.clusterIP: cannot change/);
  });
});

test('objects: concurrent updateObject calls all land (compare-and-swap retry)', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, pod('p'));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        updateObject(store, 'Pod', 'default', 'p', (p) => {
          p.metadata.annotations = { ...p.metadata.annotations, [`podnet.io/k${i}`]: String(i) };
          return p;
        }),
      ),
    );
    const p = (await getObject(store, 'Pod', 'default', 'p'))!;
    assert.equal(Object.keys(p.metadata.annotations ?? {}).length, 20);
    assert.equal(await updateObject(store, 'Pod', 'default', 'missing', (x) => x), undefined);
  });
});

test('objects: list by namespace or all, and the ClusterNetwork over the defaults', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, pod('a', 'shop'));
    await applyObject(store, pod('b', 'dev'));
    assert.deepEqual(
      (await listObjects(store, 'Pod', 'shop')).items.map((p) => p.metadata.name),
      ['a'],
    );
    assert.equal((await listObjects(store, 'Pod')).items.length, 2);
    assert.deepEqual(await getClusterNetwork(store), DEFAULT_CLUSTER_NETWORK);
    await applyObject(store, {
      apiVersion: 'podnet.io/v1',
      kind: 'ClusterNetwork',
      metadata: { name: 'default' },
      spec: { ...DEFAULT_CLUSTER_NETWORK, backend: 'vxlan' },
    });
    assert.equal((await getClusterNetwork(store)).backend, 'vxlan');
  });
});

test('informer: synced cache, then every change; re-lists after compaction', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, pod('a'));
    const changes: string[] = [];
    const inf = startInformer(store, 'Pod', {
      onChange: (c: Change<Pod>) => changes.push(`${c.type} ${c.name}`),
    });
    await inf.synced;
    assert.deepEqual([...inf.cache.keys()], ['default/a']);
    await applyObject(store, pod('b'));
    await deleteObject(store, 'Pod', 'default', 'a');
    const deadline = Date.now() + 3000;
    while (changes.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(changes, ['added default/a', 'added default/b', 'deleted default/a']);
    assert.deepEqual([...inf.cache.keys()], ['default/b']);
    await inf.stop();

    // A watch that breaks with `compacted` makes the informer list again and report only the
    // difference: here 'b' went away and 'c' came while it was not watching.
    const seen: string[] = [];
    let failed = false;
    const flaky: Store = Object.create(store, {
      watch: {
        value: (prefix: string, from: number, handlers: WatchHandlers) => {
          if (failed) return store.watch(prefix, from, handlers);
          failed = true;
          void (async () => {
            await deleteObject(store, 'Pod', 'default', 'b');
            await applyObject(store, pod('c'));
            handlers.onError(new StoreWatchError('compacted', 'compacted'));
          })();
          return { cancel: async () => {} };
        },
      },
    });
    const again = startInformer(flaky, 'Pod', {
      onChange: (c) => seen.push(`${c.type} ${c.name}`),
    });
    await again.synced;
    const until = Date.now() + 3000;
    while (seen.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ['added default/b', 'deleted default/b', 'added default/c']);
    assert.deepEqual([...again.cache.keys()], ['default/c']);
    await again.stop();
  });
});

test('informer: a value that is not an object is skipped and reported', async () => {
  await withTempStore(async (store) => {
    const errors: string[] = [];
    const inf = startInformer(store, 'Pod', { onError: (m) => errors.push(m) });
    await inf.synced;
    await store.put(objectKey('Pod', 'default', 'junk'), 'not json');
    await applyObject(store, pod('fine'));
    const deadline = Date.now() + 3000;
    while (!inf.cache.has('default/fine') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual([...inf.cache.keys()], ['default/fine']);
    assert.deepEqual(errors, [
      'store: /podnet/pods/default/junk does not hold an object (written by something else?)',
    ]);
    await inf.stop();
  });
});
