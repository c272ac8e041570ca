// `podnet plan` in cloud mode: each node as routed, overflow vxlan, refused or waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_CLOUD_ROUTE, type Node } from '../../src/api/types.js';
import { cloudPlacements, placementLines } from '../../src/cloud/placements.js';

function node(name: string, placement?: string, message?: string): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: placement ? { [ANNOTATION_CLOUD_ROUTE]: placement } : {} },
    spec: { podCIDR: `10.244.${name.slice(-1)}.0/24` },
    status: message
      ? {
          conditions: [
            {
              type: 'NetworkUnavailable',
              status: 'True',
              reason: 'NoRouteCreated',
              message,
              lastTransitionTime: '2026-01-01T00:00:00Z',
            },
          ],
        }
      : {},
  } as Node;
}

test('each node is shown as the route controller placed it, in name order', () => {
  const rows = cloudPlacements([
    node('node-3', 'refused', 'route table rtb-1 is full'),
    node('node-1', 'routed'),
    node('node-2', 'overflow'),
    node('node-4'),
  ]);
  assert.deepEqual(
    rows.map((r) => [r.node, r.placement]),
    [
      ['node-1', 'routed'],
      ['node-2', 'overflow vxlan'],
      ['node-3', 'refused'],
      ['node-4', 'waiting'],
    ],
  );
  assert.equal(
    placementLines(rows)[2],
    '# node-3 10.244.3.0/24: refused (route table rtb-1 is full)',
  );
});
