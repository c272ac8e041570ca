// Writes through the API server admitted from its watch caches: a cache behind the store never
// decides a write. Each case changes the store under a primed cache and writes at once, before
// the in-memory store's next poll could bring the cache up to date (the store answers
// synchronously, so the whole request runs before any timer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_CLUSTER_NETWORK,
  type ClusterNetwork,
  type Pod,
  type Service,
} from '../../src/api/types.js';
import { create, patch, type WriteRequest } from '../../src/apiserver/handlers.js';
import { resourceFor, resourceOfKind, type Resource } from '../../src/apiserver/resources.js';
import { ApiError } from '../../src/apiserver/status.js';
import { WatchCaches } from '../../src/apiserver/watch-cache.js';
import { keyOf, objectKey } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';

const services = resourceFor('', 'v1', 'services')!;
const pods = resourceFor('', 'v1', 'pods')!;
const NETWORK_KEY = objectKey('ClusterNetwork', undefined, 'default');

function network(serviceCIDR: string, dnsIP: string): ClusterNetwork {
  return {
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: { ...DEFAULT_CLUSTER_NETWORK, serviceCIDR, dnsIP },
  };
}

const service = (clusterIP: string): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'default' },
  spec: { type: 'ClusterIP', clusterIP, ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] },
});

const pod: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', labels: { app: 'web' } },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', command: ['sleep', '1'] }] },
};

async function withServer(fn: (store: Store, caches: WatchCaches) => Promise<void>) {
  const store = await openStore('sqlite::memory:');
  const caches = new WatchCaches(store);
  try {
    await fn(store, caches);
  } finally {
    caches.stop();
    await store.close();
  }
}

/** Waits until the kind's cache holds `key` at the store's revision of it. */
async function cached(caches: WatchCaches, store: Store, resource: Resource, key: string) {
  const want = (await store.get(key))?.modRevision;
  for (let i = 0; i < 400; i++) {
    const listed = caches.of(resource).peek(key);
    if (listed !== undefined && (listed?.kv.modRevision ?? undefined) === want) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`the cache never caught up with ${key}`);
}

/** Asserts the cache still holds `key` at an older revision than the store does. */
async function behind(caches: WatchCaches, store: Store, resource: Resource, key: string) {
  const listed = caches.of(resource).peek(key);
  assert.notEqual(listed?.kv.modRevision, (await store.get(key))?.modRevision, 'cache behind');
}

const request = (store: Store, caches: WatchCaches, resource: Resource, body: unknown) =>
  ({
    store,
    caches,
    target: { resource, namespace: 'default' },
    body,
    dryRun: false,
    fieldValidation: 'Strict',
  }) satisfies WriteRequest;

test('a create refused by a cached ClusterNetwork that has moved on is admitted by the store', () =>
  withServer(async (store, caches) => {
    await store.put(NETWORK_KEY, JSON.stringify(network('10.96.0.0/16', '10.96.0.10')));
    await cached(caches, store, resourceOfKind('ClusterNetwork')!, NETWORK_KEY);
    await store.put(NETWORK_KEY, JSON.stringify(network('10.100.0.0/16', '10.100.0.10')));
    await behind(caches, store, resourceOfKind('ClusterNetwork')!, NETWORK_KEY);
    const reply = await create(request(store, caches, services, service('10.100.0.20')));
    assert.equal(reply.code, 201);
    assert.equal((reply.body as Service).spec.clusterIP, '10.100.0.20');
  }));

test('a create a cached ClusterNetwork admits is refused when the store has moved on, leaving nothing', () =>
  withServer(async (store, caches) => {
    await store.put(NETWORK_KEY, JSON.stringify(network('10.100.0.0/16', '10.100.0.10')));
    await cached(caches, store, resourceOfKind('ClusterNetwork')!, NETWORK_KEY);
    await store.put(NETWORK_KEY, JSON.stringify(network('10.96.0.0/16', '10.96.0.10')));
    await behind(caches, store, resourceOfKind('ClusterNetwork')!, NETWORK_KEY);
    const before = (await store.list('/podnet/')).items.map((kv) => kv.key);
    await assert.rejects(
      create(request(store, caches, services, service('10.100.0.20'))),
      (err: unknown) => err instanceof ApiError && err.reason === 'Invalid',
    );
    const after = (await store.list('/podnet/')).items.map((kv) => kv.key);
    // The system namespace the first try made is the one key that may stay: it would be made by
    // any create in it.
    assert.deepEqual(
      after.filter((k) => k !== objectKey('Namespace', undefined, 'default')),
      before,
    );
  }));

test('a patch of a cached object that has moved on applies to the newest one', () =>
  withServer(async (store, caches) => {
    await store.put(keyOf(pod), JSON.stringify(pod));
    await cached(caches, store, pods, keyOf(pod));
    const newer = { ...pod, metadata: { ...pod.metadata, labels: { app: 'web', tier: 'a' } } };
    const at = await store.put(keyOf(pod), JSON.stringify(newer));
    await behind(caches, store, pods, keyOf(pod));
    const merge = (body: unknown) =>
      patch({
        ...request(store, caches, pods, body),
        target: { resource: pods, namespace: 'default', name: 'p' },
        type: 'merge',
      });
    const reply = await merge({ metadata: { labels: { patched: 'yes' } } });
    assert.deepEqual((reply.body as Pod).metadata.labels, {
      app: 'web',
      tier: 'a',
      patched: 'yes',
    });
    // A patch that names the store's version is no conflict for a cache still behind it.
    const again = { ...newer, metadata: { ...newer.metadata, labels: { app: 'web' } } };
    const now = await store.put(keyOf(pod), JSON.stringify(again));
    assert.ok(now > at);
    await behind(caches, store, pods, keyOf(pod));
    const pinned = await merge({ metadata: { resourceVersion: String(now), labels: { b: '1' } } });
    assert.deepEqual((pinned.body as Pod).metadata.labels, { app: 'web', b: '1' });
  }));

/** The store, counting each call the handlers make on it by method. */
function counted(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

test('a create and a patch admitted from caches that hold what they read make one store call each, the conditional write', () =>
  withServer(async (store, caches) => {
    const home = objectKey('Namespace', undefined, 'default');
    await store.put(
      home,
      JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }),
    );
    await cached(caches, store, resourceOfKind('Namespace')!, home);
    // No ClusterNetwork is stored: a primed cache says so without asking the store.
    await cached(caches, store, resourceOfKind('ClusterNetwork')!, NETWORK_KEY);
    await cached(caches, store, pods, keyOf(pod));

    const created = counted(store);
    const reply = await create(request(created.store, caches, pods, structuredClone(pod)));
    assert.equal(reply.code, 201);
    assert.deepEqual(Object.fromEntries(created.calls), { compareAndSwap: 1 });

    await cached(caches, store, pods, keyOf(pod));
    const patched = counted(store);
    const merged = await patch({
      ...request(patched.store, caches, pods, { metadata: { labels: { patched: 'yes' } } }),
      target: { resource: pods, namespace: 'default', name: 'p' },
      type: 'merge',
    });
    assert.equal((merged.body as Pod).metadata.labels?.patched, 'yes');
    assert.deepEqual(Object.fromEntries(patched.calls), { compareAndSwap: 1 });
  }));
