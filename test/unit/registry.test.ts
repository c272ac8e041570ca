import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { getObject, applyObject, objectKey, updateObject } from '../../src/store/objects.js';
import {
  DEFAULT_CLUSTER_NETWORK,
  type Namespace,
  type Node,
  type Pod,
  type Service,
} from '../../src/api/types.js';
import { Journal } from '../../src/registry/journal.js';
import { applyManifest } from '../../src/registry/apply.js';
import {
  deleteNamespaceContents,
  deleteObject,
  finishPodDeletion,
} from '../../src/registry/delete.js';
import { SETTLE_MS, contentsDeletionDelayMs } from '../../src/agent/namespace-controller.js';
import { repair } from '../../src/registry/repair.js';
import { LABEL_NAMESPACE_NAME, markTerminating } from '../../src/registry/namespaces.js';

const net = DEFAULT_CLUSTER_NETWORK;
const memoryStore = (): Promise<Store> => openStore('sqlite::memory:');

/** Every key and value in the store: what "the store as it was" means. */
async function dump(store: Store): Promise<[string, string][]> {
  return (await store.list('/')).items.map((kv) => [kv.key, kv.value]);
}

const ns = (name: string): Namespace => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name },
});

const node = (name: string): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: {},
});

function svc(name: string, spec: Partial<Service['spec']> = {}, namespace = 'shop'): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { type: 'ClusterIP', selector: { app: name }, ports: [{ port: 80 }], ...spec },
  };
}

const pod = (name: string, namespace = 'shop', nodeName?: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  spec: { nodeName, containers: [{ name: 'c' }] },
});

const nodePort = (name: string, port?: number): Service =>
  svc(name, { type: 'NodePort', ports: [{ port: 80, nodePort: port }] });

test('journal: a rollback puts created, updated and deleted keys back as they were', async () => {
  const store = await memoryStore();
  await store.put('/k/updated', 'old');
  await store.put('/k/deleted', 'gone?');
  const before = await dump(store);
  const j = new Journal(store);
  await j.create('/k/created', 'new');
  await j.put('/k/updated', 'new');
  await j.put('/k/updated', 'newer');
  assert.ok(await j.delete('/k/deleted'));
  assert.notDeepEqual(await dump(store), before);
  await j.rollback();
  assert.deepEqual(await dump(store), before);
});

test('journal: a key changed by someone else meanwhile is not overwritten but reported', async () => {
  const store = await memoryStore();
  const j = new Journal(store);
  await j.create('/k/mine', 'mine');
  await store.put('/k/mine', 'theirs');
  await assert.rejects(j.rollback(), /could not undo \/k\/mine: changed by someone else/);
  assert.equal((await store.get('/k/mine'))?.value, 'theirs');
});

test('registry: a refused second Service leaves the store exactly as it was', async () => {
  const store = await memoryStore();
  await applyManifest(store, [ns('shop'), svc('taken', { clusterIP: '10.96.0.50' })], net);
  await applyManifest(store, [nodePort('held', 30080)], net);
  const before = await dump(store);
  // The first Service reserves an IP and a node port before the second is refused at each of
  // the allocators in turn.
  for (const [bad, message] of [
    [
      svc('second', { clusterIP: '10.96.0.50' }),
      /Service shop\/second: spec\.clusterIP 10\.96\.0\.50: already allocated to service shop\/taken/,
    ],
    [
      nodePort('second', 30080),
      /Service shop\/second: spec\.ports\[0\]\.nodePort: 30080 is already used by service shop\/held/,
    ],
  ] as const) {
    await assert.rejects(applyManifest(store, [nodePort('first'), bad], net), message);
    assert.deepEqual(await dump(store), before);
  }
});

test('registry: a write that fails at object N unwrites objects 1..N-1 and frees their reservations', async () => {
  const store = await memoryStore();
  await applyManifest(store, [ns('shop')], net);
  const before = await dump(store);
  const broken = failingWrites(store, objectKey('Pod', 'shop', 'third'));
  await assert.rejects(
    applyManifest(broken, [nodePort('first'), svc('second'), pod('third')], net),
    /disk full/,
  );
  assert.deepEqual(await dump(store), before);
});

test('registry: an update that is refused later in the manifest is undone too', async () => {
  const store = await memoryStore();
  await applyManifest(store, [ns('shop'), nodePort('web')], net);
  const before = await dump(store);
  // web drops its node port (released) and changes its labels; then the manifest fails.
  const changed = {
    ...svc('web'),
    metadata: { name: 'web', namespace: 'shop', labels: { a: 'b' } },
  };
  await assert.rejects(
    applyManifest(store, [changed, svc('bad', { clusterIP: '10.200.0.1' })], net),
    /not a usable address of the service CIDR/,
  );
  assert.deepEqual(await dump(store), before);
});

test('registry: every problem found without writing is reported at once, and nothing is written', async () => {
  const store = await memoryStore();
  await applyManifest(store, [ns('shop'), svc('web', { clusterIP: '10.96.0.7' })], net);
  const before = await dump(store);
  await assert.rejects(
    applyManifest(
      store,
      [pod('p', 'nowhere'), svc('web', { clusterIP: '10.96.0.8' }), pod('d', 'default')],
      net,
    ),
    (err: Error) => {
      assert.match(
        err.message,
        /^Pod nowhere\/p: metadata\.namespace: namespace "nowhere" not found; create it first/m,
      );
      assert.match(
        err.message,
        /^Service shop\/web: spec\.clusterIP: cannot change from 10\.96\.0\.7 to 10\.96\.0\.8/m,
      );
      return true;
    },
  );
  // Not even the system namespace `default` the third object would have created.
  assert.deepEqual(await dump(store), before);
});

test('namespaces: system namespaces appear on first use; every namespace carries its name label', async () => {
  const store = await memoryStore();
  const [applied] = await applyManifest(store, [pod('p', 'default')], net);
  assert.equal(applied!.action, 'created');
  const def = await getObject(store, 'Namespace', undefined, 'default');
  assert.equal(def?.metadata.labels?.[LABEL_NAMESPACE_NAME], 'default');
  // The label cannot be taken away or changed by a manifest.
  const shop = ns('shop');
  shop.metadata.labels = { [LABEL_NAMESPACE_NAME]: 'other', team: 'a' };
  await applyManifest(store, [shop], net);
  await applyManifest(
    store,
    [{ ...ns('shop'), metadata: { name: 'shop', labels: { team: 'b' } } }],
    net,
  );
  const stored = await getObject(store, 'Namespace', undefined, 'shop');
  assert.deepEqual(stored?.metadata.labels, { team: 'b', [LABEL_NAMESPACE_NAME]: 'shop' });
  await assert.rejects(
    deleteObject(store, 'Namespace', undefined, 'default'),
    /system namespace cannot be deleted/,
  );
});

test('namespaces: deletion is Terminating until the pods in it are torn down; new objects are refused', async () => {
  const store = await memoryStore();
  const [, , , running] = await applyManifest(
    store,
    [
      node('node-1'),
      ns('shop'),
      nodePort('web'),
      pod('web-0', 'shop', 'node-1'),
      pod('loose', 'shop', 'node-9'),
    ],
    net,
  );
  const now = new Date('2026-01-02T03:04:05Z');
  assert.equal(await deleteObject(store, 'Namespace', undefined, 'shop', { now }), 'terminating');
  const shop = await getObject(store, 'Namespace', undefined, 'shop');
  assert.equal(shop?.status?.phase, 'Terminating');
  assert.equal(shop?.metadata.deletionTimestamp, '2026-01-02T03:04:05Z');
  // The service and the unplaced pod went at once, their reservations with them.
  assert.equal(await getObject(store, 'Service', 'shop', 'web'), undefined);
  assert.equal(await getObject(store, 'Pod', 'shop', 'loose'), undefined);
  assert.deepEqual((await store.list('/podnet/reservations/')).items, []);
  assert.deepEqual((await store.list('/podnet/nodeports/')).items, []);
  // The placed pod waits for its node.
  const web0 = await getObject(store, 'Pod', 'shop', 'web-0');
  assert.equal(web0?.metadata.deletionTimestamp, '2026-01-02T03:04:05Z');
  await assert.rejects(
    applyManifest(store, [svc('late')], net),
    /Service shop\/late: metadata\.namespace: namespace "shop" is being deleted \(Terminating\)/,
  );
  // The node's pod runner finishes the pod: that was the last thing in the namespace.
  assert.ok(await finishPodDeletion(store, running!.object as Pod));
  assert.equal(await getObject(store, 'Namespace', undefined, 'shop'), undefined);
  // Then the name can be used again.
  await applyManifest(store, [ns('shop'), svc('late')], net);
});

test('namespaces through the API: only marked Terminating; the contents stay deletable until the controller deletes them', async () => {
  const store = await memoryStore();
  await applyManifest(
    store,
    [node('node-1'), ns('shop'), nodePort('web'), pod('web-0', 'shop', 'node-1')],
    net,
  );
  const later = { namespaceContents: 'later' } as const;
  assert.equal(await deleteObject(store, 'Namespace', undefined, 'shop', later), 'terminating');
  assert.equal(
    (await getObject(store, 'Namespace', undefined, 'shop'))?.status?.phase,
    'Terminating',
  );
  // Still there, as kubectl expects when it deletes the rest of a manifest next.
  assert.ok(await getObject(store, 'Service', 'shop', 'web'));
  assert.equal(
    (await getObject(store, 'Pod', 'shop', 'web-0'))?.metadata.deletionTimestamp,
    undefined,
  );
  assert.equal(await deleteObject(store, 'Service', 'shop', 'web'), 'deleted');
  // The controller's pass: the pod is marked for its node, the namespace waits for it.
  assert.equal(await deleteNamespaceContents(store, 'shop'), 'terminating');
  const web0 = await getObject(store, 'Pod', 'shop', 'web-0');
  assert.ok(web0?.metadata.deletionTimestamp);
  assert.ok(await finishPodDeletion(store, web0));
  assert.equal(await getObject(store, 'Namespace', undefined, 'shop'), undefined);
  assert.equal(await deleteNamespaceContents(store, 'shop'), 'not-found');

  // An empty namespace has nothing to wait for; one not being deleted keeps its contents.
  await applyManifest(store, [ns('empty'), ns('kept'), svc('s', {}, 'kept')], net);
  assert.equal(await deleteObject(store, 'Namespace', undefined, 'empty', later), 'deleted');
  assert.equal(await deleteNamespaceContents(store, 'kept'), 'not-found');
  assert.ok(await getObject(store, 'Service', 'kept', 's'));
});

test('namespace controller: contents are deleted a moment after the namespace turns Terminating', () => {
  const at = (deletionTimestamp?: string) =>
    ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', deletionTimestamp },
    }) as const;
  const marked = at('2026-01-02T03:04:05Z');
  assert.equal(
    contentsDeletionDelayMs(marked, new Date('2026-01-02T03:04:05.500Z')),
    SETTLE_MS - 500,
  );
  assert.equal(contentsDeletionDelayMs(marked, new Date('2026-01-02T03:05:00Z')), 0);
  // A clock behind the stamp never waits longer than the settle time.
  assert.equal(contentsDeletionDelayMs(marked, new Date('2026-01-02T03:00:00Z')), SETTLE_MS);
  assert.equal(contentsDeletionDelayMs(at(undefined), new Date()), 0);
});

test('pods: deletion on a live node is graceful; unplaced, node gone or forced pods go at once', async () => {
  const store = await memoryStore();
  await applyManifest(store, [node('node-1'), ns('shop')], net);
  await applyManifest(
    store,
    [
      pod('graceful', 'shop', 'node-1'),
      pod('forced', 'shop', 'node-1'),
      pod('orphan', 'shop', 'node-9'),
    ],
    net,
  );
  assert.equal(
    await deleteObject(store, 'Pod', 'shop', 'graceful', { gracePeriodSeconds: 5 }),
    'terminating',
  );
  const g = await getObject(store, 'Pod', 'shop', 'graceful');
  assert.ok(g?.metadata.deletionTimestamp);
  assert.equal(g?.metadata.deletionGracePeriodSeconds, 5);
  // Deleting again changes nothing; applying it again neither restarts nor ends the deletion.
  assert.equal(await deleteObject(store, 'Pod', 'shop', 'graceful'), 'terminating');
  await applyManifest(store, [pod('graceful', 'shop', 'node-1')], net);
  assert.equal(
    (await getObject(store, 'Pod', 'shop', 'graceful'))?.metadata.deletionTimestamp,
    g?.metadata.deletionTimestamp,
  );
  // A pod of the same name but another uid is not finished by the old pod's teardown.
  assert.equal(
    await finishPodDeletion(store, { ...g!, metadata: { ...g!.metadata, uid: 'other' } }),
    false,
  );
  assert.ok(await getObject(store, 'Pod', 'shop', 'graceful'));

  assert.equal(
    await deleteObject(store, 'Pod', 'shop', 'forced', { force: true, gracePeriodSeconds: 0 }),
    'deleted',
  );
  assert.equal(await deleteObject(store, 'Pod', 'shop', 'orphan'), 'deleted');
  assert.equal(await deleteObject(store, 'Pod', 'shop', 'orphan'), 'not-found');
});

test('repair: frees reservations no Service holds, keeps held ones, finishes orphaned deletions', async () => {
  const store = await memoryStore();
  await applyManifest(store, [node('node-1'), ns('shop'), nodePort('web', 30001)], net);
  await applyManifest(store, [pod('p', 'shop', 'node-1')], net);
  const held = await dump(store);
  // Leaks as a killed apply leaves them: a reservation with no Service, one the Service no longer uses.
  await store.put('/podnet/reservations/serviceips/10-96-0-99', 'shop/ghost');
  await store.put('/podnet/nodeports/30002', JSON.stringify({ service: 'shop/web' }));
  // A pod whose node went away while it was Terminating.
  await deleteObject(store, 'Pod', 'shop', 'p');
  await store.delete(objectKey('Node', undefined, 'node-1'));
  const report = await repair(store, { settleMs: 0 });
  assert.deepEqual(report.freed.map((f) => f.key).sort(), [
    '/podnet/nodeports/30002',
    '/podnet/reservations/serviceips/10-96-0-99',
  ]);
  assert.deepEqual(report.podsRemoved, ['shop/p']);
  const left = (await dump(store)).map(([k]) => k);
  const keptBefore = held
    .map(([k]) => k)
    .filter((k) => !k.includes('/pods/') && !k.includes('/nodes/'));
  assert.deepEqual(left, keptBefore);
  assert.deepEqual(await repair(store, { settleMs: 0 }), {
    freed: [],
    podsRemoved: [],
    namespacesRemoved: [],
  });
});

test('repair: a reservation taken again while it settles is not freed', async () => {
  const store = await memoryStore();
  await store.put('/podnet/reservations/serviceips/10-96-0-99', 'shop/ghost');
  const pass = repair(store, { settleMs: 50 });
  await store.put('/podnet/reservations/serviceips/10-96-0-99', 'shop/new');
  await applyObject(store, svc('new', { clusterIP: '10.96.0.99' }));
  assert.deepEqual((await pass).freed, []);
  assert.ok(await store.get('/podnet/reservations/serviceips/10-96-0-99'));
});

/** The store, with every write of one key failing as a full disk would. */
function failingWrites(store: Store, key: string): Store {
  const writes = new Set<PropertyKey>(['create', 'update', 'compareAndSwap', 'put']);
  return new Proxy(store, {
    get(target, prop) {
      const value = Reflect.get(target, prop) as unknown;
      if (typeof value !== 'function') return value;
      return (k: string, ...rest: unknown[]) => {
        if (writes.has(prop) && k === key) throw new Error('store: disk full');
        return (value as (...a: unknown[]) => unknown).call(target, k, ...rest);
      };
    },
  });
}

test('repair: an interrupted namespace deletion is carried on until the namespace is gone', async () => {
  const store = await memoryStore();
  await applyManifest(store, [ns('shop'), nodePort('web')], net);
  // As a delete killed right after marking the namespace would leave it.
  await updateObject(store, 'Namespace', undefined, 'shop', (n) => markTerminating(n, new Date()));
  const report = await repair(store, { settleMs: 0 });
  assert.deepEqual(report.namespacesRemoved, ['shop']);
  assert.deepEqual(await dump(store), []);
});
