// NetworkPolicy on the API server: discovery lists networking.k8s.io/v1 with `netpol`, and
// `kubectl get netpol` gets kubectl's own columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicy } from '../../src/api/types.js';
import { groupNames, resourceList } from '../../src/apiserver/discovery.js';
import { resourceOfKind } from '../../src/apiserver/resources.js';
import { toTable } from '../../src/apiserver/table.js';

test('discovery: networking.k8s.io/v1 serves networkpolicies, short name netpol', () => {
  assert.ok(groupNames().includes('networking.k8s.io'));
  const list = resourceList('networking.k8s.io', 'v1');
  assert.equal(list?.groupVersion, 'networking.k8s.io/v1');
  assert.deepEqual(
    list?.resources.map((r) => ({ ...r, verbs: undefined })),
    [
      {
        name: 'networkpolicies',
        singularName: 'networkpolicy',
        namespaced: true,
        kind: 'NetworkPolicy',
        verbs: undefined,
        shortNames: ['netpol'],
      },
    ],
  );
});

test('Tables: kubectl get netpol prints Name, Pod-Selector, Age', () => {
  const policy: NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'deny', namespace: 'x', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Ingress'] },
  };
  const t = toTable(resourceOfKind('NetworkPolicy')!, [policy], {
    resourceVersion: '3',
    now: new Date('2026-01-01T00:05:00Z'),
  });
  assert.deepEqual(
    t.columnDefinitions.map((c) => c.name),
    ['Name', 'Pod-Selector', 'Age'],
  );
  assert.deepEqual(t.rows[0]!.cells, ['deny', 'pod=a', '5m']);
});
