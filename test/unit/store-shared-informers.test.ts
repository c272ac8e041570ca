// The agent's informer cache: one list+watch per kind whatever the number of handlers, late
// handlers told the cache, and a processed revision that waits for the handlers' own work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Node } from '../../src/api/types.js';
import { applyObject, deleteObject } from '../../src/store/objects.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import type { Store } from '../../src/store/store.js';
import { withTempStore } from '../helpers/temp-store.js';

const node = (name: string, heartbeat = 0): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, annotations: { heartbeat: String(heartbeat) } },
  spec: { podCIDR: '10.244.1.0/24' },
});

/** The store, counting the lists and watches made through it. */
function counting(store: Store): { store: Store; lists: string[]; watches: string[] } {
  const lists: string[] = [];
  const watches: string[] = [];
  const wrapped: Store = Object.create(store, {
    list: { value: (prefix: string) => (lists.push(prefix), store.list(prefix)) },
    watch: {
      value: (...args: Parameters<Store['watch']>) => (watches.push(args[0]), store.watch(...args)),
    },
  });
  return { store: wrapped, lists, watches };
}

const revisionOf = (o: { metadata: { resourceVersion?: string } }): number =>
  Number(o.metadata.resourceVersion);

test('informer cache: one list and one watch per kind, however many handlers', async () => {
  await withTempStore(async (sqlite) => {
    const { store, lists, watches } = counting(sqlite);
    const cache = new InformerCache(store);
    try {
      const seen: string[][] = [[], [], []];
      for (const log of seen) {
        const nodes = cache.informer('Node');
        nodes.addHandler((c) => void log.push(`${c.type} ${c.name}`));
      }
      await cache.informer('Node').synced;
      const { object } = await applyObject(sqlite, node('n1'));
      await cache.informer('Node').waitForRevision(revisionOf(object));
      assert.deepEqual(seen, [['added n1'], ['added n1'], ['added n1']]);
      assert.deepEqual(lists, ['/podnet/nodes/']);
      assert.deepEqual(watches, ['/podnet/nodes/']);
    } finally {
      await cache.stop();
    }
  });
});

test('informer cache: a handler added after the first list is told every cached object', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, node('n1'));
    await applyObject(store, node('n2'));
    const cache = new InformerCache(store);
    try {
      const nodes = cache.informer('Node');
      await nodes.synced;
      const late: string[] = [];
      nodes.addHandler((c) => void late.push(`${c.type} ${c.name}`));
      assert.deepEqual(late.sort(), ['added n1', 'added n2']);
      const { object } = await applyObject(store, node('n1', 1));
      await nodes.waitForRevision(revisionOf(object));
      assert.deepEqual(late.at(-1), 'modified n1');
    } finally {
      await cache.stop();
    }
  });
});

test('informer cache: a change counts as processed only once the work its handlers started is done', async () => {
  await withTempStore(async (store) => {
    const cache = new InformerCache(store);
    try {
      const nodes = cache.informer('Node');
      let finish!: () => void;
      const work = new Promise<void>((resolve) => (finish = resolve));
      let reconciles = 0;
      // One handler only counts; the other starts slow work for changes of n2.
      nodes.addHandler(() => void reconciles++);
      nodes.addHandler((c) => (c.name === 'n2' ? work : undefined));
      await nodes.synced;
      const first = revisionOf((await applyObject(store, node('n1'))).object);
      await nodes.waitForRevision(first);
      assert.equal(nodes.processedRevision(), first);

      const second = revisionOf((await applyObject(store, node('n2'))).object);
      let done = false;
      const waited = nodes.waitForRevision(second).then(() => (done = true));
      // The watch delivers n2 (the cache has it) while its handler's work is still running.
      while (!nodes.cache.has('n2')) await new Promise((r) => setTimeout(r, 5));
      assert.equal(done, false);
      assert.equal(nodes.processedRevision(), first);
      finish();
      await waited;
      assert.equal(nodes.processedRevision(), second);
      assert.equal(reconciles, 2);
    } finally {
      await cache.stop();
    }
  });
});

test('informer cache: deletions are processed too, and the revision is a metric per kind', async () => {
  await withTempStore(async (store) => {
    const metrics = new Registry();
    const cache = new InformerCache(store, { metrics });
    try {
      const nodes = cache.informer('Node');
      const seen: string[] = [];
      nodes.addHandler((c) => void seen.push(`${c.type} ${c.name}`));
      await applyObject(store, node('n1'));
      await deleteObject(store, 'Node', undefined, 'n1');
      const { object } = await applyObject(store, node('n2'));
      await nodes.waitForRevision(revisionOf(object));
      assert.deepEqual(seen, ['added n1', 'deleted n1', 'added n2']);
      assert.match(
        await metrics.metrics(),
        new RegExp(`podnet_informer_processed_revision\\{kind="Node"\\} ${revisionOf(object)}\\n`),
      );
    } finally {
      await cache.stop();
    }
  });
});

test('informer cache: a kind with a transform is cached and handed on as the transform made it', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, node('n1', 1));
    const withoutAnnotations = (n: Node): Node => ({
      ...n,
      metadata: { name: n.metadata.name, resourceVersion: n.metadata.resourceVersion },
    });
    const cache = new InformerCache(store, { transforms: { Node: withoutAnnotations } });
    try {
      const nodes = cache.informer('Node');
      const seen: (Record<string, string> | undefined)[] = [];
      nodes.addHandler((c) => void seen.push(c.object.metadata.annotations));
      await nodes.synced;
      // Listed, then watched: both paths keep only what the transform keeps.
      const { object } = await applyObject(store, node('n2', 2));
      await nodes.waitForRevision(revisionOf(object));
      assert.deepEqual(seen, [undefined, undefined]);
      assert.deepEqual(
        [...nodes.cache.values()].map((n) => n.metadata),
        [
          { name: 'n1', resourceVersion: String(revisionOf(nodes.cache.get('n1')!)) },
          { name: 'n2', resourceVersion: object.metadata.resourceVersion },
        ],
      );
    } finally {
      await cache.stop();
    }
  });
});
