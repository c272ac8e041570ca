import { test } from 'node:test';
import assert from 'node:assert/strict';
import { age, objectTable } from '../../src/api/table.js';
import { ImmutableFieldError, mergeForApply } from '../../src/api/merge.js';
import type { Node, Pod, Service } from '../../src/api/types.js';

const now = new Date('2026-01-01T12:00:00Z');
const created = '2026-01-01T11:57:30Z';

test('table: ages as kubectl prints them', () => {
  assert.equal(age('2026-01-01T11:59:15Z', now), '45s');
  assert.equal(age(created, now), '2m30s');
  assert.equal(age('2026-01-01T11:00:00Z', now), '60m');
  assert.equal(age('2026-01-01T07:00:00Z', now), '5h');
  assert.equal(age('2025-12-25T12:00:00Z', now), '7d');
  assert.equal(age(undefined, now), '<unknown>');
});

test('table: services, with -A and -o wide columns', () => {
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', creationTimestamp: created },
    spec: {
      type: 'NodePort',
      clusterIP: '10.96.0.20',
      selector: { app: 'web' },
      ports: [
        { name: 'http', port: 80, nodePort: 30080, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
      ],
    },
  };
  assert.equal(
    objectTable('Service', [svc], { now, allNamespaces: true, wide: true }),
    [
      'NAMESPACE   NAME   TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)               AGE     SELECTOR',
      'shop        web    NodePort   10.96.0.20   <none>        80:30080/TCP,53/UDP   2m30s   app=web',
    ].join('\n'),
  );
});

test('table: pods and nodes', () => {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'shop', creationTimestamp: created },
    spec: { nodeName: 'node-1', containers: [{ name: 'c' }] },
    status: {
      phase: 'Running',
      podIP: '10.244.1.5',
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
  assert.equal(
    objectTable('Pod', [pod], { now, wide: true }),
    [
      'NAME    READY   STATUS    RESTARTS   AGE     IP           NODE     MESSAGE',
      'web-0   1/1     Running   0          2m30s   10.244.1.5   node-1   <none>',
    ].join('\n'),
  );
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'node-1',
      labels: { 'topology.kubernetes.io/zone': 'z1' },
      creationTimestamp: created,
    },
    spec: { podCIDR: '10.244.1.0/24' },
    status: { addresses: [{ type: 'InternalIP', address: '172.31.1.1' }] },
  };
  assert.match(
    objectTable('Node', [node], { now, wide: true }),
    /node-1\s+Unknown\s+10\.244\.1\.0\/24\s+2m30s\s+172\.31\.1\.1\s+z1$/,
  );
});

test('table: a node that cannot route to some peers shows NetworkUnavailable beside its readiness', () => {
  const node = (conditions: { type: string; status: 'True' | 'False' }[]): Node => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', creationTimestamp: created },
    spec: { podCIDR: '10.244.1.0/24' },
    status: { conditions },
  });
  const ready = { type: 'Ready', status: 'True' } as const;
  assert.match(
    objectTable('Node', [node([ready, { type: 'NetworkUnavailable', status: 'True' }])], { now }),
    /^node-1\s+Ready,NetworkUnavailable\s+10\.244\.1\.0\/24/m,
  );
  assert.match(
    objectTable('Node', [node([ready, { type: 'NetworkUnavailable', status: 'False' }])], { now }),
    /^node-1\s+Ready\s+10\.244/m,
  );
});

test('merge: apply keeps identity, status, cluster IP, node ports and the pod node', () => {
  const old: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: 'web',
      namespace: 'shop',
      uid: 'u1',
      creationTimestamp: created,
      annotations: { 'podnet.io/x': '1' },
    },
    spec: {
      type: 'NodePort',
      clusterIP: '10.96.0.20',
      ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }],
    },
  };
  const incoming: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop' },
    spec: { type: 'NodePort', ports: [{ port: 80, protocol: 'TCP' }] },
  };
  const merged = mergeForApply(old, incoming);
  assert.equal(merged.metadata.uid, 'u1');
  assert.equal(merged.spec.clusterIP, '10.96.0.20');
  assert.equal(merged.spec.ports![0]!.nodePort, 30080);
  assert.deepEqual(merged.metadata.annotations, { 'podnet.io/x': '1' });
  assert.equal(incoming.spec.clusterIP, undefined, 'the input is not changed');

  const pod = (nodeName?: string): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { nodeName, containers: [{ name: 'c' }] },
  });
  const placed: Pod = { ...pod('node-1'), status: { phase: 'Running', podIP: '10.244.1.5' } };
  const again = mergeForApply(placed, pod());
  assert.equal(again.spec.nodeName, 'node-1');
  assert.equal(again.status?.podIP, '10.244.1.5');
  assert.throws(() => mergeForApply(placed, pod('node-2')), ImmutableFieldError);
});
