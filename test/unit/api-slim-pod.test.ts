// What an agent keeps of a pod: every field its controllers read (endpoint slices, policy
// selectors and named ports, the flow log's names) and none of the bulk of a real pod.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slimPod } from '../../src/api/slim-pod.js';
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
  assert.deepEqual(slimPod(real), {
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
  assert.deepEqual(slimPod(pending), {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [{ name: 'c' }] },
  });
});
