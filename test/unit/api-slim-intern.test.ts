// The agent's interner: equal values once, frozen, and tables that forget what nothing asks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interner } from '../../src/api/slim-intern.js';

test('interner: equal JSON values are one frozen object; other values stay apart', () => {
  const shared = new Interner();
  const a = shared.value({ app: 'web', tier: 'front' });
  const b = shared.value({ app: 'web', tier: 'front' });
  const c = shared.value({ app: 'db' });
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.ok(Object.isFrozen(a));
  const nested = shared.value([{ name: 'app', ports: [{ containerPort: 80 }] }]);
  assert.ok(Object.isFrozen(nested[0]!.ports![0]));
});

test('interner: absent values and strings pass through as they are', () => {
  const shared = new Interner();
  assert.equal(shared.value(undefined), undefined);
  assert.equal(shared.string(undefined), undefined);
  assert.equal(shared.string('kube-system'), 'kube-system');
});

test('interner: its tables stay within two generations however many values pass', () => {
  const shared = new Interner(100);
  for (let i = 0; i < 10_000; i++) {
    shared.value({ hash: String(i) });
    shared.string(`node-${i}`);
  }
  assert.ok(shared.size() <= 400, `${shared.size()} values held`);
});

test('interner: a value asked for in every generation stays the one copy', () => {
  const shared = new Interner(10);
  const first = shared.value({ app: 'web' });
  for (let i = 0; i < 100; i++) {
    shared.value({ churn: String(i) });
    assert.equal(shared.value({ app: 'web' }), first);
  }
});
