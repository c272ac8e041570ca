// The evaluator case by case beyond the pod matrix: which policies decide and in which
// direction, node probes, addresses outside the cluster, DNS egress by namespace label, named
// ports that differ per pod, and protocols that never open each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicy, Pod, Protocol } from '../../src/api/types.js';
import { evaluate, type Cluster, type Endpoint } from '../../src/policy/evaluate.js';
import { matrixCluster, matrixNamespace, matrixPod, netpol } from '../helpers/netpol-matrix.js';

function cluster(policies: NetworkPolicy[], extraPods: Pod[] = []): Cluster {
  const c = matrixCluster(policies);
  return {
    ...c,
    pods: [...c.pods, ...extraPods],
    namespaces: [...c.namespaces, matrixNamespace('kube-system')],
  };
}

function pod(c: Cluster, key: string): Endpoint {
  return { pod: c.pods.find((p) => `${p.metadata.namespace}/${p.metadata.name}` === key)! };
}

function check(c: Cluster, src: Endpoint, dst: Endpoint, protocol: Protocol, port: number) {
  return evaluate({ src, dst, protocol, port }, c);
}

const DENY_X = netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });

test('verdict: a denial names the isolating policies and the direction; egress is judged first', () => {
  const c = cluster([DENY_X]);
  const out = check(c, pod(c, 'x/a'), pod(c, 'x/b'), 'TCP', 80);
  assert.equal(out.allowed, false);
  assert.equal(out.direction, 'Egress');
  assert.deepEqual(out.by, ['x/deny-all']);
  assert.deepEqual(out.ingress, { isolated: true, allowed: false, policies: ['x/deny-all'] });
  const inbound = check(c, pod(c, 'y/a'), pod(c, 'x/b'), 'TCP', 80);
  assert.equal(inbound.direction, 'Ingress');
  assert.deepEqual(inbound.egress, { isolated: false, allowed: true, policies: [] });
});

test('verdict: an allowed connection names the policies whose rules admitted it, both ends', () => {
  const c = cluster([
    DENY_X,
    netpol('x', 'a-out', {
      podSelector: { matchLabels: { pod: 'a' } },
      egress: [{ to: [{ podSelector: {} }] }],
    }),
    netpol('x', 'b-in', {
      podSelector: { matchLabels: { pod: 'b' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'a' } } }] }],
    }),
  ]);
  const out = check(c, pod(c, 'x/a'), pod(c, 'x/b'), 'TCP', 80);
  assert.equal(out.allowed, true);
  assert.equal(out.direction, undefined);
  assert.deepEqual(out.by, ['x/a-out', 'x/b-in']);
  // Nothing isolates: allowed, decided by no policy.
  const free = check(c, pod(c, 'y/a'), pod(c, 'z/b'), 'UDP', 81);
  assert.deepEqual(free, {
    allowed: true,
    by: [],
    egress: { isolated: false, allowed: true, policies: [] },
    ingress: { isolated: false, allowed: true, policies: [] },
  });
});

test("node probes: ingress from the pod's own node is always allowed; another node is not", () => {
  const c = cluster([DENY_X]);
  const xa = pod(c, 'x/a') as { pod: Pod };
  const own = xa.pod.status!.hostIP!;
  const probe = check(c, { ip: own }, xa, 'TCP', 80);
  assert.equal(probe.allowed, true);
  assert.equal(probe.ingress?.fromOwnNode, true);
  assert.equal(probe.egress, undefined, 'a node is not a pod: no egress to judge');
  assert.equal(
    check(c, { ip: '10.0.0.1', node: xa.pod.spec.nodeName! }, xa, 'TCP', 80).allowed,
    true,
  );
  const other = own === '172.31.1.1' ? '172.31.1.2' : '172.31.1.1';
  assert.equal(check(c, { ip: other }, xa, 'TCP', 80).allowed, false);
});

test('addresses outside the cluster: ipBlock with except, for ingress and egress', () => {
  const c = cluster([
    netpol('x', 'outside', {
      podSelector: {},
      ingress: [{ from: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.9.0/24'] } }] }],
      egress: [{ to: [{ ipBlock: { cidr: '8.8.0.0/16' } }] }],
    }),
  ]);
  const xa = pod(c, 'x/a');
  assert.equal(check(c, { ip: '192.168.1.1' }, xa, 'TCP', 80).allowed, true);
  assert.equal(check(c, { ip: '192.168.9.1' }, xa, 'TCP', 80).allowed, false);
  assert.equal(check(c, { ip: '172.16.0.1' }, xa, 'TCP', 80).allowed, false);
  assert.equal(check(c, xa, { ip: '8.8.8.8' }, 'UDP', 53).allowed, true);
  const out = check(c, xa, { ip: '1.1.1.1' }, 'UDP', 53);
  assert.equal(out.allowed, false);
  assert.equal(out.ingress, undefined, 'not a pod: no ingress to judge');
  // A selector never matches an address that no pod holds.
  const bySelector = cluster([
    netpol('x', 'all-ns', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
  ]);
  assert.equal(check(bySelector, { ip: '192.168.1.1' }, xa, 'TCP', 80).allowed, false);
  assert.equal(check(bySelector, pod(bySelector, 'z/c'), xa, 'TCP', 80).allowed, true);
});

test('a pod named by its address is judged as that pod', () => {
  const c = cluster([
    netpol('x', 'from-y', {
      podSelector: {},
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
    }),
  ]);
  const ya = (pod(c, 'y/a') as { pod: Pod }).pod.status!.podIP!;
  const za = (pod(c, 'z/a') as { pod: Pod }).pod.status!.podIP!;
  assert.equal(check(c, { ip: ya }, pod(c, 'x/a'), 'TCP', 80).allowed, true);
  assert.equal(check(c, { ip: za }, pod(c, 'x/a'), 'TCP', 80).allowed, false);
});

test('egress deny with DNS allowed to kube-system by the namespace name label', () => {
  const dns: Pod = {
    ...matrixPod('kube-system', 'coredns', 20),
    metadata: { name: 'coredns', namespace: 'kube-system', labels: { k8s: 'dns' } },
  };
  const c = cluster(
    [
      netpol('x', 'dns-only', {
        podSelector: {},
        egress: [
          {
            to: [
              {
                namespaceSelector: {
                  matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
                },
              },
            ],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
        ],
      }),
    ],
    [dns],
  );
  assert.equal(check(c, pod(c, 'x/a'), { pod: dns }, 'UDP', 53).allowed, true);
  assert.equal(check(c, pod(c, 'x/a'), { pod: dns }, 'TCP', 53).allowed, true);
  assert.equal(check(c, pod(c, 'x/a'), { pod: dns }, 'TCP', 80).allowed, false);
  assert.equal(check(c, pod(c, 'x/a'), pod(c, 'y/a'), 'UDP', 53).allowed, false);
  // policyTypes left out: the egress section makes it Ingress and Egress.
  assert.equal(check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'TCP', 80).allowed, false);
});

test('named ports resolve per destination pod: the same name may be a different number', () => {
  const alt: Pod = matrixPod('x', 'alt', 9);
  alt.metadata.labels = { pod: 'alt' };
  alt.spec.containers = [
    { name: 'web', ports: [{ name: 'serve-80-tcp', containerPort: 8080, protocol: 'TCP' }] },
  ];
  const c = cluster(
    [netpol('x', 'named', { podSelector: {}, ingress: [{ ports: [{ port: 'serve-80-tcp' }] }] })],
    [alt],
  );
  assert.equal(check(c, pod(c, 'y/a'), { pod: alt }, 'TCP', 8080).allowed, true);
  assert.equal(check(c, pod(c, 'y/a'), { pod: alt }, 'TCP', 80).allowed, false);
  assert.equal(check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'TCP', 80).allowed, true);
  assert.equal(check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'TCP', 8080).allowed, false);
  // A named port cannot match an address that is not a pod.
  const egress = cluster([
    netpol('x', 'named-out', {
      podSelector: {},
      egress: [{ ports: [{ port: 'serve-80-tcp' }] }],
      policyTypes: ['Egress'],
    }),
  ]);
  assert.equal(check(egress, pod(egress, 'x/a'), { ip: '8.8.8.8' }, 'TCP', 80).allowed, false);
  assert.equal(check(egress, pod(egress, 'x/a'), pod(egress, 'y/b'), 'TCP', 80).allowed, true);
});

test('protocols: an SCTP or UDP rule never opens TCP; a rule with no port opens its protocol', () => {
  const c = cluster([
    netpol('x', 'sctp', {
      podSelector: {},
      ingress: [{ ports: [{ protocol: 'SCTP', port: 80 }, { protocol: 'UDP' }] }],
    }),
  ]);
  assert.equal(check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'SCTP', 80).allowed, true);
  assert.equal(check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'SCTP', 81).allowed, false);
  assert.equal(check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'TCP', 80).allowed, false);
  assert.equal(check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'UDP', 4242).allowed, true);
});

test('a policy selects only pods of its own namespace', () => {
  const c = cluster([netpol('y', 'deny', { podSelector: { matchLabels: { pod: 'a' } } })]);
  assert.equal(check(c, pod(c, 'x/b'), pod(c, 'x/a'), 'TCP', 80).allowed, true);
  assert.equal(check(c, pod(c, 'x/b'), pod(c, 'y/a'), 'TCP', 80).allowed, false);
});

test('endPort: an inclusive range, nothing past either end', () => {
  const c = cluster([
    netpol('x', 'range', {
      podSelector: {},
      ingress: [{ ports: [{ protocol: 'TCP', port: 8000, endPort: 8080 }] }],
    }),
  ]);
  const open = (port: number) => check(c, pod(c, 'y/a'), pod(c, 'x/a'), 'TCP', port).allowed;
  assert.deepEqual([7999, 8000, 8040, 8080, 8081].map(open), [false, true, true, true, false]);
});
