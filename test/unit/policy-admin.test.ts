// The admin tiers in the evaluator: AdminNetworkPolicies by priority before NetworkPolicy
// (Allow and Deny decide, Pass hands over), the BaselineAdminNetworkPolicy after it only for
// pods no NetworkPolicy isolates in that direction, and the rule that decided named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  AdminNetworkPolicy,
  AdminNetworkPolicyAction,
  BaselineAdminNetworkPolicy,
  NetworkPolicy,
} from '../../src/api/types.js';
import { evaluate, type Cluster } from '../../src/policy/evaluate.js';
import { matrixCluster, netpol } from '../helpers/netpol-matrix.js';

const ANP_VERSION = 'policy.networking.k8s.io/v1alpha1';

/** An ANP on the pods of namespace x whose one ingress rule acts on everything from `from`. */
function anp(
  name: string,
  priority: number,
  action: AdminNetworkPolicyAction,
  from = 'y',
  ruleName?: string,
): AdminNetworkPolicy {
  return {
    apiVersion: ANP_VERSION,
    kind: 'AdminNetworkPolicy',
    metadata: { name },
    spec: {
      priority,
      subject: { namespaces: { matchLabels: { ns: 'x' } } },
      ingress: [
        {
          ...(ruleName ? { name: ruleName } : {}),
          action,
          from: [{ namespaces: { matchLabels: { ns: from } } }],
        },
      ],
    },
  };
}

function banp(action: 'Allow' | 'Deny', from = 'y'): BaselineAdminNetworkPolicy {
  return {
    apiVersion: ANP_VERSION,
    kind: 'BaselineAdminNetworkPolicy',
    metadata: { name: 'default' },
    spec: {
      subject: { namespaces: {} },
      ingress: [
        { name: 'baseline', action, from: [{ namespaces: { matchLabels: { ns: from } } }] },
      ],
    },
  };
}

const DENY_INGRESS_X = netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
const ALLOW_Y_TO_X = netpol('x', 'allow-y', {
  podSelector: {},
  ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
});

function cluster(
  policies: NetworkPolicy[],
  admin: AdminNetworkPolicy[],
  baseline: BaselineAdminNetworkPolicy[] = [],
): Cluster {
  return { ...matrixCluster(policies), adminPolicies: admin, baselinePolicies: baseline };
}

function judge(c: Cluster, from: string, to: string, port = 80) {
  const find = (key: string) =>
    c.pods.find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key)!;
  return evaluate({ src: { pod: find(from) }, dst: { pod: find(to) }, protocol: 'TCP', port }, c);
}

test('a Deny ANP beats a NetworkPolicy that allows, and names its rule', () => {
  const c = cluster([ALLOW_Y_TO_X], [anp('block-y', 10, 'Deny', 'y', 'no-y')]);
  const out = judge(c, 'y/a', 'x/a');
  assert.equal(out.allowed, false);
  assert.equal(out.direction, 'Ingress');
  assert.deepEqual(out.by, ['anp/block-y']);
  assert.deepEqual(out.ingress?.admin, {
    tier: 'Admin',
    policy: 'anp/block-y',
    rule: 'no-y',
    action: 'Deny',
  });
  // Peers the rule does not name are left to NetworkPolicy.
  assert.equal(judge(c, 'z/a', 'x/a').allowed, false, 'allow-y isolates x');
  assert.equal(judge(c, 'x/b', 'x/a').allowed, false);
});

test('an Allow ANP beats a NetworkPolicy that denies', () => {
  const c = cluster([DENY_INGRESS_X], [anp('let-y', 10, 'Allow')]);
  const out = judge(c, 'y/b', 'x/c');
  assert.equal(out.allowed, true);
  assert.deepEqual(out.by, ['anp/let-y']);
  assert.equal(out.ingress?.admin?.rule, 'ingress[0]', 'an unnamed rule is named by its place');
  assert.equal(judge(c, 'z/b', 'x/c').allowed, false, 'deny-ingress still holds for z');
});

test('a Pass hands the connection to NetworkPolicy, skipping lower-priority ANPs', () => {
  const pass = anp('pass-y', 5, 'Pass');
  const deny = anp('deny-y', 50, 'Deny');
  // No NetworkPolicy isolates x: passed on, nothing decides, allowed.
  const open = judge(cluster([], [deny, pass]), 'y/a', 'x/a');
  assert.equal(open.allowed, true);
  assert.equal(open.ingress?.passedBy?.policy, 'anp/pass-y');
  assert.equal(open.ingress?.admin, undefined);
  // NetworkPolicy decides what was passed, both ways.
  assert.equal(judge(cluster([DENY_INGRESS_X], [deny, pass]), 'y/a', 'x/a').allowed, false);
  const allowed = judge(cluster([ALLOW_Y_TO_X], [deny, pass]), 'y/a', 'x/a');
  assert.equal(allowed.allowed, true);
  assert.deepEqual(allowed.by, ['x/allow-y']);
});

test('ANPs are judged by priority, lowest first: a higher-priority Allow overrides a lower Deny', () => {
  const allow = anp('allow-y', 1, 'Allow');
  const deny = anp('deny-y', 2, 'Deny');
  assert.equal(judge(cluster([], [deny, allow]), 'y/a', 'x/a').allowed, true);
  const swapped = [
    { ...allow, spec: { ...allow.spec, priority: 3 } },
    { ...deny, spec: { ...deny.spec, priority: 2 } },
  ];
  assert.equal(judge(cluster([], swapped), 'y/a', 'x/a').allowed, false);
});

test('equal priorities are judged in name order, the same on every node', () => {
  const a = anp('a-allow', 7, 'Allow');
  const b = anp('b-deny', 7, 'Deny');
  assert.equal(judge(cluster([], [b, a]), 'y/a', 'x/a').allowed, true);
  assert.equal(judge(cluster([], [a, b]), 'y/a', 'x/a').allowed, true);
  const renamed = { ...b, metadata: { name: '0-deny' } };
  assert.equal(judge(cluster([], [a, renamed]), 'y/a', 'x/a').allowed, false);
});

test('the baseline decides only for pods no NetworkPolicy isolates in that direction', () => {
  const only = netpol('x', 'only-a', {
    podSelector: { matchLabels: { pod: 'a' } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
  });
  const c = cluster([only], [], [banp('Deny')]);
  const unselected = judge(c, 'y/a', 'x/b');
  assert.equal(unselected.allowed, false);
  assert.deepEqual(unselected.by, ['banp/default']);
  assert.equal(unselected.ingress?.admin?.tier, 'Baseline');
  assert.equal(judge(c, 'y/a', 'x/a').allowed, true, 'only-a isolates x/a: the baseline is silent');
  assert.equal(judge(c, 'z/a', 'x/b').allowed, true, 'the baseline names only y');
  // An ANP still comes first; a Pass goes on to NetworkPolicy and then the baseline.
  assert.equal(
    judge(cluster([only], [anp('ok', 1, 'Allow')], [banp('Deny')]), 'y/a', 'x/b').allowed,
    true,
  );
  assert.equal(
    judge(cluster([only], [anp('p', 1, 'Pass')], [banp('Deny')]), 'y/a', 'x/b').allowed,
    false,
  );
});

test('admin rules apply per direction: an egress Deny by network, ports by number and range', () => {
  const egress: AdminNetworkPolicy = {
    apiVersion: ANP_VERSION,
    kind: 'AdminNetworkPolicy',
    metadata: { name: 'egress' },
    spec: {
      priority: 3,
      subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { pod: 'a' } } } },
      egress: [
        {
          action: 'Deny',
          to: [{ networks: ['10.244.0.0/16'] }],
          ports: [{ portRange: { protocol: 'TCP', start: 81, end: 90 } }],
        },
      ],
    },
  };
  const c = cluster([], [egress]);
  assert.equal(judge(c, 'y/a', 'x/b', 81).allowed, false);
  assert.equal(judge(c, 'y/a', 'x/b', 81).direction, 'Egress');
  assert.equal(judge(c, 'y/a', 'x/b', 80).allowed, true, 'port 80 is outside the range');
  assert.equal(judge(c, 'y/b', 'x/b', 81).allowed, true, 'y/b is not the subject');
});
