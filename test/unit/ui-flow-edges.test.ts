import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Flow } from '../../src/flows/types.js';
import { flowEdges } from '../../src/ui/server/flow-edges.js';

const NOW = Date.parse('2025-01-01T10:00:10.000Z');

function flow(id: string, start: string, over: Partial<Flow> = {}): Flow {
  return {
    seq: 1,
    id,
    node: 'node-1',
    protocol: 'tcp',
    source: { ip: '10.244.1.5', port: 40000, pod: 'my-namespace/client' },
    service: { namespace: 'my-namespace', name: 'my-svc', ip: '10.96.0.20', port: 80 },
    destination: { ip: '10.244.2.7', port: 8080, pod: 'my-namespace/echo-2' },
    path: 'vxlan',
    verdict: 'forwarded',
    state: 'closed',
    start,
    ...over,
  };
}

test('flow edges: one per pair of pods with its rate over the window; older flows left out', () => {
  const edges = flowEdges(
    [
      flow('a', '2025-01-01T10:00:05.000Z'),
      flow('b', '2025-01-01T10:00:09.000Z'),
      flow('old', '2025-01-01T09:59:00.000Z'),
    ],
    NOW,
    10_000,
  );
  assert.deepEqual(edges, [
    {
      id: 'flow/pod/my-namespace/client/pod/my-namespace/echo-2',
      source: 'pod/my-namespace/client',
      target: 'pod/my-namespace/echo-2',
      namespaces: ['my-namespace'],
      connections: 2,
      rate: 0.2,
      verdict: 'forwarded',
    },
  ]);
});

test('flow edges: a refused connection ends at the service; the worst verdict colours the edge', () => {
  const refused = flow('r', '2025-01-01T10:00:09.000Z', {
    verdict: 'refused',
    destination: { ip: '10.96.0.20', port: 80 },
  });
  const denied = flow('d', '2025-01-01T10:00:09.000Z', { verdict: 'denied', service: undefined });
  const edges = flowEdges([flow('a', '2025-01-01T10:00:09.000Z'), refused, denied], NOW, 10_000);
  assert.deepEqual(
    edges.map((e) => [e.target, e.connections, e.verdict]),
    [
      ['pod/my-namespace/echo-2', 2, 'denied'],
      ['svc/my-namespace/my-svc', 1, 'refused'],
    ],
  );
});

test('flow edges: a flow with an end outside the pods and services is not drawn', () => {
  const external = flow('x', '2025-01-01T10:00:09.000Z', {
    service: undefined,
    destination: { ip: '192.0.2.1', port: 53 },
  });
  assert.deepEqual(flowEdges([external], NOW, 10_000), []);
});
