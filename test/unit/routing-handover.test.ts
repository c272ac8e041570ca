// A host moving to BGP during a rollout keeps routing the peers BGP has not told it of from the
// store, so no route leaves its kernel; once no host runs a routing source of its own, BGP alone
// decides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_NETWORK_SETTINGS } from '../../src/api/node-settings.js';
import type { Node } from '../../src/api/types.js';
import { handoverNodes, routingHandover } from '../../src/routing/handover.js';

const node = (name: string, podCIDR: string, annotations: Record<string, string> = {}): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, annotations },
  spec: { podCIDR },
});

test('routing handover: peers BGP has not learnt are routed from the store, learnt ones from BGP', () => {
  const stored = [
    node('n1', '10.244.1.0/24'),
    node('n2', '10.244.2.0/24'),
    node('n3', '10.244.3.0/24'),
  ];
  const learned = [node('n1', '10.244.1.0/24'), node('n3', '10.244.3.0/24', { from: 'bgp' })];
  const out = handoverNodes(learned, stored);
  assert.deepEqual(
    out.map(
      (n) => `${n.metadata.name} ${n.spec.podCIDR} ${n.metadata.annotations?.from ?? 'store'}`,
    ),
    ['n1 10.244.1.0/24 store', 'n3 10.244.3.0/24 bgp', 'n2 10.244.2.0/24 store'],
  );
});

test('routing handover: only while some host has a routing source of its own', () => {
  const plain = [node('n1', '10.244.1.0/24'), node('n2', '10.244.2.0/24')];
  assert.equal(routingHandover(plain), false);
  const rolling = [
    ...plain,
    node('n3', '10.244.3.0/24', {
      [ANNOTATION_NETWORK_SETTINGS]: JSON.stringify({ generation: 'g', routing: 'bgp' }),
    }),
  ];
  assert.equal(routingHandover(rolling), true);
  const backendOnly = [
    node('n3', '10.244.3.0/24', {
      [ANNOTATION_NETWORK_SETTINGS]: JSON.stringify({ generation: 'g', backend: 'host-gw' }),
    }),
  ];
  assert.equal(routingHandover(backendOnly), false, 'a backend rollout hands no routes over');
});
