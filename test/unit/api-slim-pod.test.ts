// What an agent keeps of a pod: every field its controllers read (endpoint slices, policy
// selectors and named ports, the flow log's names) and none of the bulk of a real pod; and what
// the pods of one template repeat, once for all of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slimPod } from '../../src/api/slim-pod.js';
import { Interner } from '../../src/api/slim-intern.js';
import { podAddresses } from '../../src/policy/rules.js';
import type { Pod } from '../../src/api/types.js';

const real: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-0',
    namespace: 'shop',
    uid: 'u-1',
    labels: { app: 'web' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}' },
    resourceVersion: '42',
    creationTimestamp: '2026-01-01T00:00:00Z',
    generation: 3,
    deletionTimestamp: '2026-01-02T00:00:00Z',
  },
  spec: {
    nodeName: 'node-1',
    hostname: 'web-0',
    subdomain: 'web',
    containers: [
      {
        name: 'app',
        image: 'registry.example/web:1.2.3',
        command: ['/bin/web', '--serve'],
        env: [{ name: 'MODE', value: 'production' }],
        ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
      },
      { name: 'sidecar', image: 'registry.example/proxy:9' },
    ],
  },
  status: {
    phase: 'Running',
    podIP: '10.244.1.5',
    podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00:10:244:1::5' }],
    hostIP: '172.31.1.1',
    reason: 'Started',
    message: 'all containers up',
    conditions: [{ type: 'Ready', status: 'True', reason: 'Ok', message: 'ready' }],
    containerStatuses: [{ name: 'app', ready: true, restartCount: 0, state: { running: {} } }],
  },
};

test('slim pod: keeps identity, placement, addresses, labels, named ports and readiness', () => {
  assert.deepEqual(slimPod(real, new Interner()), {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-0',
      namespace: 'shop',
      uid: 'u-1',
      labels: { app: 'web' },
      resourceVersion: '42',
      deletionTimestamp: '2026-01-02T00:00:00Z',
    },
    spec: {
      nodeName: 'node-1',
      hostname: 'web-0',
      subdomain: 'web',
      containers: [
        { name: 'app', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] },
        { name: 'sidecar' },
      ],
    },
    status: {
      phase: 'Running',
      podIP: '10.244.1.5',
      podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00:10:244:1::5' }],
      hostIP: '172.31.1.1',
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  });
});

test('slim pod: a pod not yet scheduled nor started has no fields made up for it', () => {
  const pending: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
  assert.deepEqual(slimPod(pending, new Interner()), {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [{ name: 'c' }] },
  });
});

/** Pod `i` of one deployment: its own name, uid and address, on one of a few nodes. */
function replica(i: number): Pod {
  const ip = `10.244.${i % 4}.${10 + i}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `web-7d4b9c8f6-${i}`,
      namespace: 'shop-frontend',
      uid: `uid-${i}`,
      labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6' },
    },
    spec: {
      nodeName: `node-${i % 4}`,
      containers: [{ name: 'app', image: 'web:1', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      hostIP: `172.31.1.${i % 4}`,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ok' }],
    },
  };
}

test('slim pod: the pods of one template hold one labels, containers and conditions object', () => {
  const shared = new Interner();
  // Each decoded apart, as the informer does: equal values, distinct objects.
  const pods = Array.from({ length: 50 }, (_, i) =>
    slimPod(JSON.parse(JSON.stringify(replica(i))) as Pod, shared),
  );
  const distinct = (f: (p: Pod) => unknown) => new Set(pods.map(f)).size;
  assert.equal(
    distinct((p) => p.metadata.labels),
    1,
  );
  assert.equal(
    distinct((p) => p.spec.containers),
    1,
  );
  assert.equal(
    distinct((p) => p.status?.conditions),
    1,
  );
  // Each pod's own fields stay its own.
  assert.equal(
    distinct((p) => p.metadata.name),
    50,
  );
  assert.equal(
    distinct((p) => p.status?.podIP),
    50,
  );
  assert.deepEqual(pods[7]!.metadata.labels, { app: 'web', 'pod-template-hash': '7d4b9c8f6' });
  assert.equal(pods[7]!.status?.podIP, '10.244.3.17');
});

test('slim pod: a podIPs that only repeats podIP is left out; readers fall back to podIP', () => {
  const single = slimPod(replica(3), new Interner());
  assert.equal(single.status?.podIPs, undefined);
  assert.deepEqual(podAddresses(single), podAddresses(replica(3)));
  // Both families: podIPs says more than podIP, and stays.
  const dual = slimPod(real, new Interner());
  assert.deepEqual(dual.status?.podIPs, real.status?.podIPs);
  assert.deepEqual(podAddresses(dual), podAddresses(real));
});

test('slim pod: what pods share cannot be changed through one of them', () => {
  const pod = slimPod(replica(1), new Interner());
  assert.throws(() => {
    pod.metadata.labels!.app = 'other';
  }, TypeError);
  assert.throws(() => {
    pod.spec.containers[0]!.ports!.push({ containerPort: 1 });
  }, TypeError);
  // The pod's own parts are its own.
  pod.metadata.resourceVersion = '7';
  assert.equal(pod.metadata.resourceVersion, '7');
});
