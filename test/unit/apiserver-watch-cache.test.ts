// The API server's watch cache over the in-memory store: primed by a list, kept in order by the
// watch, most-recent reads only once caught up with the store (and the store's answer when it
// cannot catch up), and pages and selectors exactly as a list read from the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listPage, pageOf } from '../../src/apiserver/list.js';
import type { Selection } from '../../src/apiserver/query.js';
import { resourceFor } from '../../src/apiserver/resources.js';
import { parseFieldSelector, parseLabelSelector } from '../../src/apiserver/selectors.js';
import { selectableFields } from '../../src/apiserver/resources.js';
import { ResourceCache } from '../../src/apiserver/watch-cache.js';
import { objectKey } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import { StoreWatchError, type Store } from '../../src/store/store.js';

const pods = resourceFor('', 'v1', 'pods')!;
const all: Selection = { labels: [], fields: [] };

function pod(namespace: string, name: string, labels: Record<string, string> = {}) {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName: name.endsWith('1') ? 'node-1' : 'node-2', containers: [] },
  });
}

const put = (store: Store, namespace: string, name: string, labels?: Record<string, string>) =>
  store.put(objectKey('Pod', namespace, name), pod(namespace, name, labels));

const names = (read: { items: readonly { position: string }[] }) =>
  read.items.map((l) => l.position);

async function withCache(
  fn: (store: Store, cache: ResourceCache) => Promise<void>,
  opts: { wrap?: (s: Store) => Store; catchUpMs?: number } = {},
) {
  const store = await openStore('sqlite::memory:');
  const cache = new ResourceCache(opts.wrap?.(store) ?? store, pods, opts.catchUpMs);
  try {
    await fn(store, cache);
  } finally {
    cache.stop();
    await store.close();
  }
}

test('a cache lists what the store held when primed, in order, one namespace or all', () =>
  withCache(async (store, cache) => {
    await put(store, 'b', 'x');
    await put(store, 'a', 'z');
    await put(store, 'a', 'y');
    await put(store, 'ab', 'w');
    await cache.prime();
    const everything = await cache.mostRecent(undefined);
    assert.deepEqual(names(everything!), ['a/y', 'a/z', 'ab/w', 'b/x']);
    assert.equal(everything!.revision, await store.revision());
    assert.deepEqual(names((await cache.mostRecent('a'))!), ['a/y', 'a/z']);
    assert.deepEqual(names((await cache.mostRecent('c'))!), []);
  }));

test('a most-recent read waits for the watch to bring every write made before it', () =>
  withCache(async (store, cache) => {
    await put(store, 'a', 'one');
    await put(store, 'a', 'four');
    await cache.prime();
    assert.deepEqual(names((await cache.mostRecent('a'))!), ['a/four', 'a/one']);
    // Written after priming: only the watch can bring these, and the read must wait for it.
    await put(store, 'a', 'two');
    await put(store, 'a', 'one', { changed: 'yes' });
    await store.delete(objectKey('Pod', 'a', 'two'));
    await store.delete(objectKey('Pod', 'a', 'four'));
    await put(store, 'a', 'three');
    await put(store, 'a', 'eight');
    const read = (await cache.mostRecent('a'))!;
    assert.deepEqual(names(read), ['a/eight', 'a/one', 'a/three']);
    assert.equal(read.revision, await store.revision());
    const one = read.items[1]!;
    assert.deepEqual(one.object.metadata.labels, { changed: 'yes' });
    assert.equal(one.object.metadata.resourceVersion, String(read.revision - 4));
    assert.match(one.json(), /"resourceVersion":"\d+".*"changed":"yes"/);
  }));

test('a cache is current after writes to other kinds, from the watch reporting progress', () =>
  withCache(
    async (store, cache) => {
      await put(store, 'a', 'one');
      await cache.prime();
      await store.put(objectKey('Node', undefined, 'node-1'), '{}');
      const read = await cache.mostRecent('a');
      assert.ok(read, 'the cache caught up though nothing it holds changed');
      assert.equal(read.revision, await store.revision());
    },
    { catchUpMs: 5000 },
  ));

test('a cache that cannot catch up in time leaves a most-recent read to the store', () =>
  withCache(
    async (store, cache) => {
      await put(store, 'a', 'one');
      await cache.prime();
      await put(store, 'a', 'two');
      assert.equal(await cache.mostRecent('a'), undefined);
      // resourceVersion=0 may be served whatever the cache has.
      assert.deepEqual(names(cache.anyRecent('a')!), ['a/one']);
    },
    {
      // A watch that never delivers: the cache stays at what it listed.
      wrap: (s) =>
        Object.create(s, {
          watch: { value: () => ({ cancel: async () => {} }) },
        }) as Store,
      catchUpMs: 50,
    },
  ));

test('a cache not yet primed serves nothing', () =>
  withCache(async (store, cache) => {
    await put(store, 'a', 'one');
    assert.equal(await cache.mostRecent(undefined), undefined);
    assert.equal(cache.anyRecent(undefined), undefined);
  }));

test('pages and selectors over the cache are those of a list read from the store', () =>
  withCache(async (store, cache) => {
    for (let i = 0; i < 9; i++) await put(store, i < 5 ? 'a' : 'b', `p${i}`, { n: String(i % 2) });
    await cache.prime();
    await put(store, 'a', 'p1', { n: '0' });
    const selections: Selection[] = [
      all,
      { labels: parseLabelSelector('n=0'), fields: [] },
      { labels: [], fields: parseFieldSelector('spec.nodeName=node-1', selectableFields(pods)) },
    ];
    for (const namespace of [undefined, 'a']) {
      for (const sel of selections) {
        let token: string | null = null;
        for (let pages = 0; pages < 10; pages++) {
          const fromStore = await listPage(store, pods, namespace, sel, 2, token);
          const fromCache = pageOf(pods, (await cache.mostRecent(namespace))!, sel, 2, token);
          assert.deepEqual(names(fromCache), names(fromStore));
          assert.deepEqual(
            fromCache.items.map((l) => l.json()),
            fromStore.items.map((l) => l.json()),
          );
          assert.equal(
            fromCache.continueToken === undefined,
            fromStore.continueToken === undefined,
          );
          if (!fromStore.continueToken) break;
          token = fromStore.continueToken;
        }
      }
    }
  }));

test('a cache whose watch breaks forgets what it holds, then lists and watches again', async () => {
  let breakWatch: (() => void) | undefined;
  await withCache(
    async (store, cache) => {
      await put(store, 'a', 'one');
      await cache.prime();
      assert.deepEqual(names(cache.anyRecent('a')!), ['a/one']);
      await put(store, 'a', 'two');
      breakWatch!();
      // Until primed again nothing is served from it, not even for resourceVersion=0.
      assert.equal(cache.anyRecent('a'), undefined);
      assert.equal(await cache.mostRecent('a'), undefined);
      const deadline = Date.now() + 5000;
      while (!cache.anyRecent('a') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(names((await cache.mostRecent('a'))!), ['a/one', 'a/two']);
    },
    {
      // The first watch is broken by hand; those after it are the store's own.
      wrap: (s) =>
        Object.create(s, {
          watch: {
            value: (...args: Parameters<Store['watch']>) => {
              if (breakWatch) return s.watch(...args);
              const watch = s.watch(args[0], args[1], {
                ...args[2],
                onEvents: () => undefined,
                onProgress: undefined,
              });
              breakWatch = () =>
                args[2].onError(new StoreWatchError('compacted', 'revision compacted'));
              return watch;
            },
          },
        }) as Store,
    },
  );
});
