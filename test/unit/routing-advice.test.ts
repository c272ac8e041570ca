import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '../../src/api/types.js';
import { unreachablePeerWarnings } from '../../src/routing/advice.js';
import { networkCondition } from '../../src/routing/condition.js';

function node(name: string, problems: { peer: string; reason: string }[]): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
    spec: {},
    status: { conditions: [{ ...networkCondition(problems), lastTransitionTime: '' }] },
  };
}

test('routing advice: one warning per node that cannot reach peers, naming them and the backend that would', () => {
  const nodes = [
    node('node-1', [{ peer: 'node-2', reason: '172.31.2.2 is not on-link' }]),
    node('node-3', []),
  ];
  assert.deepEqual(unreachablePeerWarnings(nodes, 'host-gw'), [
    'node-1 cannot route to node-2 (172.31.2.2 is not on-link): backend host-gw needs every node on one L2 segment; backend auto (direct where on-link, VXLAN elsewhere) or vxlan reaches them',
  ]);
  assert.deepEqual(unreachablePeerWarnings(nodes, 'ipip'), [
    'node-1 cannot route to node-2 (172.31.2.2 is not on-link)',
  ]);
  assert.deepEqual(unreachablePeerWarnings([node('node-3', [])], 'host-gw'), []);
});
