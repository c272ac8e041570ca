import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cloneJson } from '../../src/api/clone.js';

test('a JSON copy equals its source and shares nothing mutable with it', () => {
  const source = {
    metadata: { name: 'web', labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', ports: [{ containerPort: 80 }] }], hostNetwork: false },
    status: { podIP: null, note: undefined },
  };
  const copy = cloneJson(source);
  assert.deepEqual(copy, source);
  copy.metadata.labels.app = 'changed';
  copy.spec.containers[0]!.ports[0]!.containerPort = 81;
  copy.spec.containers.push({ name: 'd', ports: [] });
  assert.equal(source.metadata.labels.app, 'web');
  assert.equal(source.spec.containers[0]!.ports[0]!.containerPort, 80);
  assert.equal(source.spec.containers.length, 1);
  assert.ok(
    'note' in copy.status,
    'a member set to undefined is kept, as structuredClone keeps it',
  );
});

test('a member named __proto__ is copied as a member, not made the copy’s prototype', () => {
  const source = JSON.parse('{"metadata":{"__proto__":{"polluted":true}}}') as {
    metadata: Record<string, unknown>;
  };
  const copy = cloneJson(source);
  assert.equal(Object.getPrototypeOf(copy.metadata), Object.prototype);
  assert.deepEqual(Object.keys(copy.metadata), ['__proto__']);
  assert.equal((copy.metadata as { polluted?: boolean }).polluted, undefined);
  assert.deepEqual(JSON.stringify(copy), JSON.stringify(source));
});
