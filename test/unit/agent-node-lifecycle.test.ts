import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Lease, Node } from '../../src/api/types.js';
import { microTime, nodeLease, nodeLeaseSeconds } from '../../src/agent/node-lease.js';
import { silentNodes, unknownCondition } from '../../src/agent/node-lifecycle.js';

const node = (name: string, ready: 'True' | 'False' | 'Unknown' = 'True'): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: {},
  status: { conditions: [{ type: 'Ready', status: ready }] },
});

test('node lease: kubelet-shaped, MicroTime renewTime, duration from env or 40 s', () => {
  const lease = nodeLease('node-2', 40, new Date('2026-01-01T00:00:00.123Z'));
  assert.deepEqual(lease, {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'node-2', namespace: 'kube-node-lease' },
    spec: {
      holderIdentity: 'node-2',
      leaseDurationSeconds: 40,
      acquireTime: '2026-01-01T00:00:00.123000Z',
      renewTime: '2026-01-01T00:00:00.123000Z',
    },
  });
  assert.equal(microTime(new Date(0)), '1970-01-01T00:00:00.000000Z');
  assert.equal(nodeLeaseSeconds({}), 40);
  assert.equal(nodeLeaseSeconds({ PODNET_NODE_LEASE_SECONDS: '4' }), 4);
  assert.equal(nodeLeaseSeconds({ PODNET_NODE_LEASE_SECONDS: 'x' }), 40);
});

test('node lifecycle: a peer silent past its lease duration is marked, others are not', () => {
  const leases = new Map<string, Lease>([
    ['node-2', nodeLease('node-2', 4, new Date(0))],
    ['node-3', nodeLease('node-3', 4, new Date(0))],
  ]);
  const seen = new Map([
    ['node-2', { seenAt: 1_000 }],
    ['node-3', { seenAt: 5_000 }],
  ]);
  const nodes = [node('node-1'), node('node-2'), node('node-3'), node('node-4', 'Unknown')];
  // node-1 is this agent; node-4 is already Unknown; node-3 renewed 1.5 s ago.
  const silent = silentNodes(nodes, leases, seen, 'node-1', 6_500, 0);
  assert.deepEqual(
    silent.map((n) => n.metadata.name),
    ['node-2'],
  );
  // Silence is counted from this agent's start at the earliest: a restarted peer is not
  // blamed for the time before it was watching.
  assert.deepEqual(silentNodes(nodes, leases, seen, 'node-1', 6_500, 6_000), []);
  // A node with no lease at all gets the default 40 s.
  assert.deepEqual(silentNodes([node('node-5')], new Map(), new Map(), 'node-1', 39_000, 0), []);
  assert.equal(silentNodes([node('node-5')], new Map(), new Map(), 'node-1', 41_000, 0).length, 1);
});

test('node lifecycle: the condition Kubernetes sets on a silent node', () => {
  assert.deepEqual(unknownCondition(new Date('2026-01-01T00:00:00.500Z')), {
    type: 'Ready',
    status: 'Unknown',
    reason: 'NodeStatusUnknown',
    message: 'agent stopped posting status',
    lastTransitionTime: '2026-01-01T00:00:00Z',
  });
});

test('node lease: Lease objects are stored apart from the subnet leases under /podnet/leases/', async () => {
  const { objectKey, kindPrefix } = await import('../../src/store/objects.js');
  const { SUBNET_LEASE_PREFIX } = await import('../../src/ipam/subnet-lease.js');
  const key = objectKey('Lease', 'kube-node-lease', 'node-1');
  assert.equal(key, '/podnet/coordination.k8s.io/leases/kube-node-lease/node-1');
  assert.ok(!SUBNET_LEASE_PREFIX.startsWith(kindPrefix('Lease')));
});
