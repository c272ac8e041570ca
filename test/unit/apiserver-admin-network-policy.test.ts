// The admin policies on the API server: discovery lists policy.networking.k8s.io/v1alpha1 with
// `anp` and `banp`, cluster-scoped, and `kubectl get anp` prints the priority.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AdminNetworkPolicy } from '../../src/api/types.js';
import { groupNames, resourceList } from '../../src/apiserver/discovery.js';
import { resourceFor, resourceOfKind } from '../../src/apiserver/resources.js';
import { toTable } from '../../src/apiserver/table.js';

test('discovery: policy.networking.k8s.io/v1alpha1 serves both kinds, short names anp, banp', () => {
  assert.ok(groupNames().includes('policy.networking.k8s.io'));
  const list = resourceList('policy.networking.k8s.io', 'v1alpha1');
  assert.equal(list?.groupVersion, 'policy.networking.k8s.io/v1alpha1');
  assert.deepEqual(
    list?.resources.map((r) => ({ ...r, verbs: undefined })),
    [
      {
        name: 'adminnetworkpolicies',
        singularName: 'adminnetworkpolicy',
        namespaced: false,
        kind: 'AdminNetworkPolicy',
        verbs: undefined,
        shortNames: ['anp'],
      },
      {
        name: 'baselineadminnetworkpolicies',
        singularName: 'baselineadminnetworkpolicy',
        namespaced: false,
        kind: 'BaselineAdminNetworkPolicy',
        verbs: undefined,
        shortNames: ['banp'],
      },
    ],
  );
  assert.equal(
    resourceFor('policy.networking.k8s.io', 'v1alpha1', 'adminnetworkpolicies')?.kind,
    'AdminNetworkPolicy',
  );
});

test('Tables: kubectl get anp prints Name, Priority, Age', () => {
  const policy: AdminNetworkPolicy = {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name: 'guard', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { priority: 5, subject: { namespaces: {} } },
  };
  const t = toTable(resourceOfKind('AdminNetworkPolicy')!, [policy], {
    resourceVersion: '3',
    now: new Date('2026-01-01T00:05:00Z'),
  });
  assert.deepEqual(
    t.columnDefinitions.map((c) => c.name),
    ['Name', 'Priority', 'Age'],
  );
  assert.deepEqual(t.rows[0]!.cells, ['guard', 5, '5m']);
});
