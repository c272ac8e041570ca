// The list verb's page: positions from keys, `namespace/name` order whatever order the store
// gave, selectors and continue tokens over that order; and how a page is sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { CHUNK_CHARS, listPage, sendList } from '../../src/apiserver/list.js';
import type { Selection } from '../../src/apiserver/query.js';
import { resourceFor } from '../../src/apiserver/resources.js';
import { objectKey } from '../../src/store/objects.js';
import { parseLabelSelector } from '../../src/apiserver/selectors.js';
import type { KeyValue, Store } from '../../src/store/store.js';

/** A store that lists exactly these objects, in the order given. */
function listing(objects: { kind: 'Pod' | 'Namespace'; namespace?: string; name: string }[]) {
  const items: KeyValue[] = objects.map((o, i) => ({
    key: objectKey(o.kind, o.namespace, o.name),
    value: JSON.stringify({
      apiVersion: 'v1',
      kind: o.kind,
      metadata: { name: o.name, namespace: o.namespace, labels: { n: String(i % 2) } },
    }),
    modRevision: i + 1,
    createRevision: i + 1,
  }));
  return { list: async () => ({ items, revision: 99 }) } as unknown as Store;
}

const pods = resourceFor('', 'v1', 'pods')!;
const namespaces = resourceFor('', 'v1', 'namespaces')!;
const all: Selection = { labels: [], fields: [] };
const positions = (page: { items: { position: string }[] }) => page.items.map((l) => l.position);

test('a list comes in namespace/name order even from a store that lists out of order', async () => {
  const store = listing([
    { kind: 'Pod', namespace: 'b', name: 'x' },
    { kind: 'Pod', namespace: 'a', name: 'z' },
    { kind: 'Pod', namespace: 'a', name: 'y' },
  ]);
  const page = await listPage(store, pods, undefined, all, undefined, null);
  assert.deepEqual(positions(page), ['a/y', 'a/z', 'b/x']);
  assert.equal(page.revision, 99);
});

test('cluster-scoped objects are placed at /name', async () => {
  const store = listing([
    { kind: 'Namespace', name: 'web' },
    { kind: 'Namespace', name: 'db' },
  ]);
  const page = await listPage(store, namespaces, undefined, all, undefined, null);
  assert.deepEqual(positions(page), ['/db', '/web']);
});

test('a selector and a limit page through the ordered objects with continue tokens', async () => {
  const store = listing(
    ['p5', 'p4', 'p3', 'p2', 'p1', 'p0'].map((name) => ({ kind: 'Pod', namespace: 'a', name })),
  );
  // Labels n=0 on p5, p3, p1 (the even indexes in store order).
  const evens = { labels: parseLabelSelector('n=0'), fields: [] };
  const first = await listPage(store, pods, 'a', evens, 2, null);
  assert.deepEqual(positions(first), ['a/p1', 'a/p3']);
  assert.ok(first.continueToken);
  const rest = await listPage(store, pods, 'a', evens, 2, first.continueToken);
  assert.deepEqual(positions(rest), ['a/p5']);
  assert.equal(rest.continueToken, undefined);
});

test('a big list is sent in chunks of at most CHUNK_CHARS and one object, which join into the list', async () => {
  const names = Array.from({ length: 2000 }, (_, i) => `pod-${String(i).padStart(4, '0')}`);
  const store = listing(names.map((name) => ({ kind: 'Pod', namespace: 'a', name })));
  const page = await listPage(store, pods, undefined, all, undefined, null);
  const largest = Math.max(...page.items.map((l) => l.json().length));
  const writes: string[] = [];
  const res = {
    writeHead: () => res,
    write: (chunk: string) => writes.push(chunk),
    end: (chunk: string) => writes.push(chunk),
  };
  sendList(res as unknown as ServerResponse, pods, page);
  assert.ok(writes.length > 2, `${writes.length} writes`);
  for (const w of writes)
    assert.ok(w.length <= CHUNK_CHARS + largest + 1, `a write of ${w.length}`);
  const list = JSON.parse(writes.join('')) as {
    kind: string;
    items: { metadata: { name: string } }[];
  };
  assert.equal(list.kind, 'PodList');
  assert.deepEqual(
    list.items.map((p) => p.metadata.name),
    names,
  );
});
