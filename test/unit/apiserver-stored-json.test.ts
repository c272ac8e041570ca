// Objects sent as stored: the spliced JSON says exactly what decoding and re-encoding says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeObject } from '../../src/store/objects.js';
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
