// NetworkPolicy in the real lab, nftables mode: the reachability matrix of upstream's e2e
// cases (all 81 pairs through the Services, compared with the evaluator), then the timing of a
// new pod: isolated from its first packet, and reachable within a second where allowed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicy, Pod } from '../../src/api/types.js';
import { NetpolLab, type Probe } from '../helpers/netpol-lab.js';
import { netpol, type PodKey } from '../helpers/netpol-matrix.js';

const lab = new NetpolLab('nftables');
before(() => lab.up());
after(() => lab.down());

const TCP80: Probe = { protocol: 'TCP', port: 80 };
const TCP81: Probe = { protocol: 'TCP', port: 81 };
const UDP80: Probe = { protocol: 'UDP', port: 80 };
const UDP81: Probe = { protocol: 'UDP', port: 81 };

const pod = (name: string) => ({ matchLabels: { pod: name } });
const ns = (name: string) => ({ matchLabels: { ns: name } });
const cidr32 = (key: PodKey) => `${lab.podIP(key)}/32`;

/** Applies `policies`, waits for every agent, checks the matrix, and deletes them again. */
async function matrixCase(policies: NetworkPolicy[], probes: Probe[] = [TCP80]): Promise<void> {
  lab.apply(policies);
  try {
    await lab.settle();
    const failure = await lab.check(policies, probes);
    assert.equal(failure, '', `the lab disagrees with the evaluator:\n${failure}`);
  } finally {
    for (const p of policies) lab.delete('netpol', p.metadata.namespace!, p.metadata.name);
  }
}

const denyIngress = netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
const denyEgress = netpol('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] });

test('no policy: everything reaches everything, TCP and UDP', () => matrixCase([], [TCP80, UDP81]));

test('default deny ingress', () => matrixCase([denyIngress], [TCP80, UDP80]));

test('default deny egress', () => matrixCase([denyEgress], [TCP80, UDP80]));

test('default deny ingress and egress', () =>
  matrixCase([netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })]));

test('allow ingress from the same namespace', () =>
  matrixCase([
    netpol('x', 'same-ns', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] }),
  ]));

test('allow ingress from another namespace by label', () =>
  matrixCase([
    netpol('x', 'from-y', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
    }),
  ]));

test('namespaceSelector and podSelector in one peer: both must match', () =>
  matrixCase([
    netpol('x', 'and', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: pod('b') }] }],
    }),
  ]));

test('namespaceSelector and podSelector as two peers: either matches', () =>
  matrixCase([
    netpol('x', 'or', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: ns('y') }, { podSelector: pod('b') }] }],
    }),
  ]));

test('namespaceSelector {} allows every namespace', () =>
  matrixCase([
    netpol('x', 'all-ns', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: {} }] }],
    }),
  ]));

test('matchExpressions NotIn on pods', () =>
  matrixCase([
    netpol('x', 'not-c', {
      podSelector: pod('a'),
      ingress: [
        {
          from: [
            {
              namespaceSelector: {},
              podSelector: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['c'] }] },
            },
          ],
        },
      ],
    }),
  ]));

test('ipBlock with except', () =>
  matrixCase([
    netpol('x', 'block', {
      podSelector: pod('a'),
      ingress: [{ from: [{ ipBlock: { cidr: '10.244.0.0/16', except: [cidr32('y/b')] } }] }],
    }),
  ]));

test('egress to a pod by its /32 ipBlock', () =>
  matrixCase([
    netpol('x', 'to-zc', {
      podSelector: pod('a'),
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: cidr32('z/c') } }] }],
    }),
  ]));

test('egress ipBlock 0.0.0.0/0 except one pod', () =>
  matrixCase([
    netpol('x', 'not-zc', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: [cidr32('z/c')] } }] }],
    }),
  ]));

test('named ports: ingress on serve-81 only', () =>
  matrixCase(
    [
      netpol('x', 'named', {
        podSelector: pod('a'),
        ingress: [{ ports: [{ port: 'serve-81' }] }],
      }),
    ],
    [TCP80, TCP81, UDP81],
  ));

test('named port for UDP', () =>
  matrixCase(
    [
      netpol('x', 'named-udp', {
        podSelector: {},
        ingress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }],
      }),
    ],
    [TCP80, UDP80],
  ));

test('endPort: a range that holds 80 but not 81', () =>
  matrixCase(
    [
      netpol('x', 'range', {
        podSelector: {},
        ingress: [{ ports: [{ port: 70, endPort: 80 }] }],
      }),
    ],
    [TCP80, TCP81],
  ));

test('egress denied except DNS to the cluster DNS pods by namespace label', async () => {
  await matrixCase([
    netpol('x', 'dns-only', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            },
          ],
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
      ],
    }),
  ]);
});

test('policies on both ends: egress of the source and ingress of the destination', () =>
  matrixCase([
    netpol('x', 'a-to-yb', {
      podSelector: pod('a'),
      policyTypes: ['Egress'],
      egress: [{ to: [{ namespaceSelector: ns('y'), podSelector: pod('b') }] }],
    }),
    netpol('y', 'b-from-xa', {
      podSelector: pod('b'),
      ingress: [{ from: [{ namespaceSelector: ns('x'), podSelector: pod('a') }] }],
    }),
  ]));

test('several policies are unioned', () =>
  matrixCase([
    denyIngress,
    netpol('x', 'from-y', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
    }),
    netpol('x', 'from-zb', {
      podSelector: pod('a'),
      ingress: [{ from: [{ namespaceSelector: ns('z'), podSelector: pod('b') }] }],
    }),
  ]));

test('UDP-only rule never opens TCP', () =>
  matrixCase(
    [
      netpol('x', 'udp-only', {
        podSelector: {},
        ingress: [{ ports: [{ port: 80, protocol: 'UDP' }] }],
      }),
    ],
    [TCP80, UDP80],
  ));

test('SCTP rule never opens TCP or UDP', () =>
  matrixCase(
    [
      netpol('x', 'sctp-only', {
        podSelector: {},
        ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }],
      }),
    ],
    [TCP80, UDP80],
  ));

test('a policy updated in place, then deleted', async () => {
  const first = netpol('x', 'moving', {
    podSelector: pod('a'),
    ingress: [{ from: [{ namespaceSelector: ns('y') }] }],
  });
  const second = netpol('x', 'moving', {
    podSelector: pod('a'),
    ingress: [{ from: [{ namespaceSelector: ns('z') }] }],
  });
  lab.apply([first]);
  await lab.settle();
  assert.equal(await lab.check([first], [TCP80]), '');
  lab.apply([second]);
  await lab.settle();
  assert.equal(await lab.check([second], [TCP80]), '');
  lab.delete('netpol', 'x', 'moving');
  await lab.settle();
  assert.equal(await lab.check([], [TCP80]), '');
});

test('a pod relabelled between probes', async () => {
  const policy = netpol('x', 'clients', {
    podSelector: pod('a'),
    ingress: [
      { from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }] },
    ],
  });
  lab.apply([policy]);
  const relabel = (labels: Record<string, string>): number => {
    const current = lab.getJson<Pod>(['get', 'pod', 'c', '-n', 'y']);
    current.metadata.labels = labels;
    lab.apply([{ ...current, status: undefined }]);
    return Number(lab.getJson<Pod>(['get', 'pod', 'c', '-n', 'y']).metadata.resourceVersion);
  };
  try {
    await lab.settle();
    assert.equal(await lab.check([policy], [TCP80]), '');
    await lab.settle(relabel({ pod: 'c', role: 'client' }));
    assert.equal(await lab.check([policy], [TCP80]), '');
    await lab.settle(relabel({ pod: 'c' }));
    assert.equal(await lab.check([policy], [TCP80]), '');
  } finally {
    lab.delete('netpol', 'x', 'clients');
  }
});
