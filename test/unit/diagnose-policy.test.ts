// trace's NetworkPolicy step: the evaluator's verdict read out as the policies that decide.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policyHop } from '../../src/diagnose/policy.js';
import { evaluate, type Cluster } from '../../src/policy/evaluate.js';
import { matrixCluster, netpol } from '../helpers/netpol-matrix.js';

function pod(c: Cluster, key: string) {
  return { pod: c.pods.find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key)! };
}

const hop = (c: Cluster, from: string, to: string, port = 80) =>
  policyHop({
    verdict: evaluate({ src: pod(c, from), dst: pod(c, to), protocol: 'TCP', port }, c),
    source: from,
    destination: to,
    protocol: 'TCP',
    port,
  });

test('policy hop: a denial names the policies and whose direction denied', () => {
  const c = matrixCluster([netpol('y', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] })]);
  assert.deepEqual(hop(c, 'x/a', 'y/b'), {
    step: 'policy',
    ok: false,
    detail: 'TCP y/b:80 denied by y/deny-all (ingress of y/b)',
  });
  const egress = matrixCluster([
    netpol('x', 'no-out', { podSelector: {}, policyTypes: ['Egress'] }),
  ]);
  assert.equal(hop(egress, 'x/a', 'y/b').detail, 'TCP y/b:80 denied by x/no-out (egress of x/a)');
});

test('policy hop: an allowed connection names what allowed each side', () => {
  const c = matrixCluster([
    netpol('y', 'from-x', {
      podSelector: {},
      ingress: [
        { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'x' } } }] },
      ],
    }),
  ]);
  const h = hop(c, 'x/a', 'y/b');
  assert.equal(h.ok, true);
  assert.equal(
    h.detail,
    'TCP y/b:80 allowed: egress of x/a: no policy isolates it; ingress of y/b allowed by y/from-x',
  );
});

test('policy hop: an admin rule that decides is named with its policy; a Pass beside NetworkPolicy', () => {
  const admin = (action: 'Deny' | 'Pass') => ({
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy' as const,
    metadata: { name: 'guard' },
    spec: {
      priority: 1,
      subject: { namespaces: { matchLabels: { ns: 'y' } } },
      ingress: [{ name: 'no-x', action, from: [{ namespaces: { matchLabels: { ns: 'x' } } }] }],
    },
  });
  const denied = { ...matrixCluster(), adminPolicies: [admin('Deny')] };
  assert.equal(
    hop(denied, 'x/a', 'y/b').detail,
    'TCP y/b:80 denied by anp/guard rule no-x (ingress of y/b)',
  );
  const passed = {
    ...matrixCluster([netpol('y', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] })]),
    adminPolicies: [admin('Pass')],
  };
  assert.equal(
    hop(passed, 'x/a', 'y/b').detail,
    'TCP y/b:80 denied by y/deny-all (passed on by anp/guard rule no-x) (ingress of y/b)',
  );
  const baseline = {
    ...matrixCluster(),
    baselinePolicies: [
      {
        apiVersion: 'policy.networking.k8s.io/v1alpha1',
        kind: 'BaselineAdminNetworkPolicy' as const,
        metadata: { name: 'default' },
        spec: {
          subject: { namespaces: {} },
          ingress: [{ action: 'Allow' as const, from: [{ namespaces: {} }] }],
        },
      },
    ],
  };
  assert.equal(
    hop(baseline, 'x/a', 'y/b').detail,
    'TCP y/b:80 allowed: egress of x/a: no policy isolates it; ingress of y/b allowed by banp/default rule ingress[0]',
  );
});
