import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkCondition, withCondition } from '../../src/routing/condition.js';
import { makeNode } from '../helpers/routing-nodes.js';

test('routing: NetworkUnavailable names the peers that cannot be routed to', () => {
  const bad = networkCondition([
    { peer: 'node-3', reason: '172.31.2.13 is not on-link' },
    { peer: 'node-4', reason: 'has not published its VTEP MAC yet' },
  ]);
  assert.deepEqual(bad, {
    type: 'NetworkUnavailable',
    status: 'True',
    reason: 'PeersUnreachable',
    message:
      'cannot route to node-3 (172.31.2.13 is not on-link); node-4 (has not published its VTEP MAC yet)',
  });
  const node = withCondition(makeNode('node-1', '10.244.1.0/24', '172.31.1.11'), bad, 'T1')!;
  assert.equal(node.status?.conditions?.[0]?.lastTransitionTime, 'T1');
  // Unchanged: no write. Fixed: a new transition.
  assert.equal(withCondition(node, bad, 'T2'), undefined);
  const good = withCondition(node, networkCondition([]), 'T3')!;
  assert.deepEqual(good.status?.conditions, [
    {
      type: 'NetworkUnavailable',
      status: 'False',
      reason: 'RoutesCreated',
      message: 'podnet routes to every peer',
      lastTransitionTime: 'T3',
    },
  ]);
});
