import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickNode, schedulePods } from '../../src/api/schedule.js';
import type { Node, Pod } from '../../src/api/types.js';

const node = (name: string): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: {},
});
const pod = (name: string, nodeName?: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { nodeName, containers: [{ name: 'c' }] },
});

test('schedule: fewest pods first, ties by node name', () => {
  const nodes = [node('node-2'), node('node-1'), node('node-3')];
  assert.equal(pickNode(nodes, []), 'node-1');
  assert.equal(pickNode(nodes, [pod('a', 'node-1')]), 'node-2');
  assert.equal(
    pickNode(nodes, [pod('a', 'node-1'), pod('b', 'node-2'), pod('c', 'node-2')]),
    'node-3',
  );
  assert.equal(pickNode([], []), undefined);
});

test('schedule: a batch spreads evenly and keeps pods that already have a node', () => {
  const nodes = [node('node-1'), node('node-2')];
  const out = schedulePods([pod('a'), pod('b'), pod('c', 'node-1'), pod('d'), pod('e')], nodes, [
    pod('x', 'node-1'),
  ]);
  assert.deepEqual(
    out.map((p) => `${p.metadata.name}@${p.spec.nodeName}`),
    ['a@node-2', 'b@node-1', 'c@node-1', 'd@node-2', 'e@node-2'],
  );
});

test('schedule: with no nodes the pod stays unscheduled and is not changed', () => {
  const p = pod('a');
  assert.equal(schedulePods([p], [], [])[0], p);
});
