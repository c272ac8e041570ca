// Objects sent as stored: the spliced JSON says exactly what decoding and re-encoding says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeObject, objectKey } from '../../src/store/objects.js';
import type { Store } from '../../src/store/store.js';
import { getOne, getOneJson } from '../../src/apiserver/handlers.js';
import { resourceOfKind } from '../../src/apiserver/resources.js';
import type { ApiError } from '../../src/apiserver/status.js';
import { storedJson } from '../../src/apiserver/stored-json.js';

const decoded = (value: string, revision: number) =>
  decodeObject({ key: 'k', value, modRevision: revision, createRevision: 0 });

test('a stored object gets its resourceVersion without being re-encoded', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web', namespace: 'shop' } };
  const text = storedJson('k', JSON.stringify(pod), 42);
  assert.ok(text.startsWith('{"apiVersion":"v1","kind":"Pod","metadata":{"resourceVersion":"42",'));
  assert.deepEqual(JSON.parse(text), decoded(JSON.stringify(pod), 42));
});

test('empty metadata, other key orders and a stored resourceVersion come out as decoded', () => {
  for (const value of [
    '{"apiVersion":"v1","kind":"Pod","metadata":{}}',
    '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a"}}',
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","resourceVersion":"3"}}',
    '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a\\"b"},"spec":{"x":"}"}}',
  ]) {
    assert.deepEqual(JSON.parse(storedJson('k', value, 7)), decoded(value, 7), value);
  }
});

test('a value that is not an object is refused as decoding refuses it', () => {
  assert.throws(() => storedJson('k', '"text"', 1), /does not hold an object/);
});

test('a get sends the stored text, which says what getOne decodes; a missing object is NotFound', async () => {
  const pods = resourceOfKind('Pod')!;
  const value = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'shop', labels: { app: 'web' } },
    spec: { nodeName: 'node-1' },
  });
  const key = objectKey('Pod', 'shop', 'web');
  const store = {
    get: async (k: string) =>
      k === key ? { key, value, modRevision: 12, createRevision: 5 } : undefined,
  } as unknown as Store;
  const target = { resource: pods, namespace: 'shop', name: 'web' };
  const text = await getOneJson(store, target);
  assert.ok(text.includes('"resourceVersion":"12"'));
  assert.deepEqual(JSON.parse(text), await getOne(store, target));
  await assert.rejects(getOneJson(store, { ...target, name: 'gone' }), (err: ApiError) => {
    assert.equal(err.code, 404);
    assert.equal(err.reason, 'NotFound');
    return true;
  });
});
