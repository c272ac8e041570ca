import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../../src/api/types.js';
import { draining, isDraining, teardownAt } from '../../src/lab/termination.js';

const DELETED = '2026-12-07T10:00:00.000Z';
const at = (seconds: number): number => Date.parse(DELETED) + seconds * 1000;

function pod(
  name: string,
  sleeps: (number | undefined)[],
  grace?: number,
  uid = `uid-${name}`,
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'default',
      uid,
      deletionTimestamp: DELETED,
      ...(grace === undefined ? {} : { deletionGracePeriodSeconds: grace }),
    },
    spec: {
      containers: sleeps.map((s, i) => ({
        name: `c${i}`,
        ...(s === undefined ? {} : { lifecycle: { preStop: { sleep: { seconds: s } } } }),
      })),
    },
  };
}

test('lab termination: a pod goes down after its longest preStop sleep, never past its grace period', () => {
  assert.equal(teardownAt(pod('a', [2, 5], 30)), at(5));
  assert.equal(teardownAt(pod('b', [10], 3)), at(3));
  assert.equal(teardownAt(pod('c', [undefined], 30)), at(0));
  assert.equal(teardownAt(pod('d', [4])), at(4));
  // Counted from when the runner first saw it: the stamp has whole seconds only.
  assert.equal(teardownAt(pod('f', [4], 30), at(0.6)), at(4.6));
  assert.equal(teardownAt(pod('g', [4], 30), at(-1)), at(4));
  const live = pod('e', [4]);
  delete live.metadata.deletionTimestamp;
  assert.equal(teardownAt(live), undefined);
});

test('lab termination: draining holds pods until their sleep ends and says when the next one goes', () => {
  const pods = [pod('a', [5], 30), pod('b', [2], 30), pod('c', [undefined], 30)];
  const seen = new Map([
    ['uid-a', at(0)],
    ['uid-b', at(0)],
    ['uid-gone', at(0)],
  ]);
  const d = draining(pods, at(1), seen);
  assert.deepEqual([...d.held.keys()].sort(), ['default/a', 'default/b']);
  assert.equal(d.nextTeardown, at(2));
  assert.ok(isDraining(d, 'default/a', 'uid-a'));
  assert.ok(isDraining(d, 'default/a', ''), 'a record without a uid is that pod');
  assert.ok(!isDraining(d, 'default/a', 'uid-old'), 'a record of a pod replaced earlier goes now');
  assert.ok(!isDraining(d, 'default/c', 'uid-c'));
  assert.deepEqual(
    [...seen.keys()].sort(),
    ['uid-a', 'uid-b', 'uid-c'],
    'learns c, forgets a gone pod',
  );
  const later = draining(pods, at(3), seen);
  assert.deepEqual([...later.held.keys()], ['default/a']);
  assert.equal(later.nextTeardown, at(5));
  assert.equal(draining(pods, at(5), seen).nextTeardown, undefined);
  // A pod first seen late (a runner busy, or restarted) still gets its whole sleep from then.
  const fresh = draining([pod('h', [2], 30)], at(10), new Map());
  assert.equal(fresh.nextTeardown, at(12));
});
