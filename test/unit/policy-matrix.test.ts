// Upstream's e2e netpol cases against the evaluator, each case's expected matrix edited exactly
// as the upstream suite edits it (all reachable, then expectPeer / whole rows and columns), and
// the harness's own behaviour: a mismatch is found off the diagonal and printed side by side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicy, Protocol } from '../../src/api/types.js';
import {
  evaluatedMatrix,
  expect,
  expectAllEgress,
  expectAllIngress,
  expectPeer,
  formatMatrices,
  matrixCluster,
  matrixPodIP,
  mismatches,
  netpol,
  newMatrix,
  type Matrix,
} from '../helpers/netpol-matrix.js';

interface Case {
  name: string;
  policies: NetworkPolicy[];
  probe: { protocol: Protocol; port: number };
  expected: (m: Matrix) => void;
}

const TCP80 = { protocol: 'TCP', port: 80 } as const;
const TCP81 = { protocol: 'TCP', port: 81 } as const;
const UDP80 = { protocol: 'UDP', port: 80 } as const;
const xbIP = matrixPodIP(matrixCluster(), 'x/b');

const CASES: Case[] = [
  {
    name: 'default deny ingress in x',
    policies: [netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })],
    probe: TCP80,
    expected: (m) => expectPeer(m, {}, { namespace: 'x' }, false),
  },
  {
    name: 'default deny egress in x',
    policies: [netpol('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })],
    probe: TCP80,
    expected: (m) => expectPeer(m, { namespace: 'x' }, {}, false),
  },
  {
    name: 'default deny all in x, both directions',
    policies: [netpol('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })],
    probe: UDP80,
    expected: (m) => {
      expectPeer(m, { namespace: 'x' }, {}, false);
      expectPeer(m, {}, { namespace: 'x' }, false);
    },
  },
  {
    name: 'allow ingress from the same namespace',
    policies: [
      netpol('x', 'allow-same-ns', {
        podSelector: {},
        ingress: [{ from: [{ podSelector: {} }] }],
        policyTypes: ['Ingress'],
      }),
    ],
    probe: TCP80,
    expected: (m) => {
      expectPeer(m, { namespace: 'y' }, { namespace: 'x' }, false);
      expectPeer(m, { namespace: 'z' }, { namespace: 'x' }, false);
    },
  },
  {
    name: 'allow x/a from pods of its namespace by pod selector (pod=b)',
    policies: [
      netpol('x', 'allow-b', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }],
        policyTypes: ['Ingress'],
      }),
    ],
    probe: TCP80,
    expected: (m) => {
      expectAllIngress(m, 'x/a', false);
      expect(m, 'x/b', 'x/a', true);
    },
  },
  {
    name: 'allow x/a from namespace y by namespace selector',
    policies: [
      netpol('x', 'allow-ns-y', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
        policyTypes: ['Ingress'],
      }),
    ],
    probe: TCP80,
    expected: (m) => {
      expectAllIngress(m, 'x/a', false);
      expectPeer(m, { namespace: 'y' }, { namespace: 'x', pod: 'a' }, true);
    },
  },
  {
    name: 'namespaceSelector and podSelector in ONE peer: both must match (y/b only)',
    policies: [
      netpol('x', 'and', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { ns: 'y' } },
                podSelector: { matchLabels: { pod: 'b' } },
              },
            ],
          },
        ],
      }),
    ],
    probe: TCP80,
    expected: (m) => {
      expectAllIngress(m, 'x/a', false);
      expect(m, 'y/b', 'x/a', true);
    },
  },
  {
    name: 'namespaceSelector and podSelector as TWO peers: either (all of y, and x/b)',
    policies: [
      netpol('x', 'or', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { namespaceSelector: { matchLabels: { ns: 'y' } } },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
      }),
    ],
    probe: TCP80,
    expected: (m) => {
      expectAllIngress(m, 'x/a', false);
      expectPeer(m, { namespace: 'y' }, { namespace: 'x', pod: 'a' }, true);
      expect(m, 'x/b', 'x/a', true);
    },
  },
  {
    name: 'namespaceSelector with NotIn matches by the automatic name label (not x)',
    policies: [
      netpol('x', 'not-x', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              {
                namespaceSelector: {
                  matchExpressions: [
                    { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['x'] },
                  ],
                },
              },
            ],
          },
        ],
      }),
    ],
    probe: TCP80,
    expected: (m) => expectPeer(m, { namespace: 'x' }, { namespace: 'x', pod: 'a' }, false),
  },
  {
    name: 'egress to an ipBlock with except (x/a reaches the cluster but x/b)',
    policies: [
      netpol('x', 'cidr-except', {
        podSelector: { matchLabels: { pod: 'a' } },
        egress: [{ to: [{ ipBlock: { cidr: '10.244.0.0/16', except: [`${xbIP}/32`] } }] }],
        policyTypes: ['Egress'],
      }),
    ],
    probe: TCP80,
    expected: (m) => expect(m, 'x/a', 'x/b', false),
  },
  {
    name: 'ipBlock except narrows only its own peer: another peer still admits x/b',
    policies: [
      netpol('x', 'cidr-except-or', {
        podSelector: { matchLabels: { pod: 'a' } },
        egress: [
          {
            to: [
              { ipBlock: { cidr: '10.244.0.0/16', except: [`${xbIP}/32`] } },
              { podSelector: { matchLabels: { pod: 'b' } } },
            ],
          },
        ],
        policyTypes: ['Egress'],
      }),
    ],
    probe: TCP80,
    expected: () => undefined,
  },
  {
    name: 'named port serve-81-tcp into x: port 80 is closed',
    policies: [
      netpol('x', 'named-81', {
        podSelector: {},
        ingress: [{ ports: [{ port: 'serve-81-tcp', protocol: 'TCP' }] }],
      }),
    ],
    probe: TCP80,
    expected: (m) => expectPeer(m, {}, { namespace: 'x' }, false),
  },
  {
    name: 'named port serve-81-tcp into x: port 81 is open',
    policies: [
      netpol('x', 'named-81', {
        podSelector: {},
        ingress: [{ ports: [{ port: 'serve-81-tcp', protocol: 'TCP' }] }],
      }),
    ],
    probe: TCP81,
    expected: () => undefined,
  },
  {
    name: 'named TCP port does not open the UDP port of the same number',
    policies: [
      netpol('x', 'named-81', {
        podSelector: {},
        ingress: [{ ports: [{ port: 'serve-80-tcp' }] }],
      }),
    ],
    probe: UDP80,
    expected: (m) => expectPeer(m, {}, { namespace: 'x' }, false),
  },
  {
    name: 'egress named port resolves on the peer pod',
    policies: [
      netpol('x', 'egress-named', {
        podSelector: { matchLabels: { pod: 'a' } },
        egress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }],
        policyTypes: ['Egress'],
      }),
    ],
    probe: UDP80,
    expected: () => undefined,
  },
  {
    name: 'endPort range 81-90 into x: 80 is closed',
    policies: [
      netpol('x', 'range', {
        podSelector: {},
        ingress: [{ ports: [{ protocol: 'TCP', port: 81, endPort: 90 }] }],
      }),
    ],
    probe: TCP80,
    expected: (m) => expectPeer(m, {}, { namespace: 'x' }, false),
  },
  {
    name: 'endPort range 80-81 into x: 81 is open',
    policies: [
      netpol('x', 'range', {
        podSelector: {},
        ingress: [{ ports: [{ protocol: 'TCP', port: 80, endPort: 81 }] }],
      }),
    ],
    probe: TCP81,
    expected: () => undefined,
  },
  {
    name: 'policies on both ends: x/a may reach only y; y/b admits only x/c',
    policies: [
      netpol('x', 'a-to-y', {
        podSelector: { matchLabels: { pod: 'a' } },
        egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
        policyTypes: ['Egress'],
      }),
      netpol('y', 'b-from-xc', {
        podSelector: { matchLabels: { pod: 'b' } },
        ingress: [
          {
            from: [
              {
                namespaceSelector: { matchLabels: { ns: 'x' } },
                podSelector: { matchLabels: { pod: 'c' } },
              },
            ],
          },
        ],
      }),
    ],
    probe: TCP80,
    expected: (m) => {
      expectAllEgress(m, 'x/a', false);
      expectPeer(m, { namespace: 'x', pod: 'a' }, { namespace: 'y' }, true);
      expectAllIngress(m, 'y/b', false);
      expect(m, 'x/c', 'y/b', true);
    },
  },
  {
    name: 'two policies selecting x/a are unioned (from y, from z)',
    policies: [
      netpol('x', 'from-y', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }],
      }),
      netpol('x', 'from-z', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }],
      }),
    ],
    probe: TCP80,
    expected: (m) => expectPeer(m, { namespace: 'x' }, { namespace: 'x', pod: 'a' }, false),
  },
  {
    name: 'allow-all ingress ({} rule) beside deny-all: union allows everything',
    policies: [
      netpol('x', 'deny', { podSelector: {}, policyTypes: ['Ingress'] }),
      netpol('x', 'allow-all', { podSelector: {}, ingress: [{}], policyTypes: ['Ingress'] }),
    ],
    probe: TCP80,
    expected: () => undefined,
  },
  {
    name: 'ingress rules of an Egress-only policy are ignored; its empty egress denies all',
    policies: [
      netpol('x', 'egress-only', {
        podSelector: { matchLabels: { pod: 'c' } },
        ingress: [{}],
        policyTypes: ['Egress'],
      }),
    ],
    probe: TCP80,
    expected: (m) => expectAllEgress(m, 'x/c', false),
  },
  {
    name: 'a TCP-only allow does not open UDP',
    policies: [
      netpol('x', 'tcp-80', {
        podSelector: {},
        ingress: [{ ports: [{ protocol: 'TCP', port: 80 }] }],
      }),
    ],
    probe: UDP80,
    expected: (m) => expectPeer(m, {}, { namespace: 'x' }, false),
  },
  {
    name: 'deny egress from x with matchExpressions pod In (a, b)',
    policies: [
      netpol('x', 'deny-ab', {
        podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b'] }] },
        policyTypes: ['Egress'],
      }),
    ],
    probe: TCP81,
    expected: (m) => {
      expectAllEgress(m, 'x/a', false);
      expectAllEgress(m, 'x/b', false);
    },
  },
];

for (const c of CASES) {
  test(`netpol matrix: ${c.name}`, () => {
    const expected = newMatrix(true);
    c.expected(expected);
    const observed = evaluatedMatrix(matrixCluster(c.policies), c.probe.protocol, c.probe.port);
    const wrong = mismatches(expected, observed);
    assert.deepEqual(wrong, [], `\n${formatMatrices(expected, observed)}`);
  });
}

test('matrix harness: a mismatch is found off the diagonal and printed side by side', () => {
  const expected = newMatrix(true);
  const observed = newMatrix(true);
  expect(observed, 'y/b', 'x/a', false);
  expect(observed, 'z/c', 'z/c', false); // the diagonal is never scored
  assert.deepEqual(mismatches(expected, observed), [
    { from: 'y/b', to: 'x/a', expected: true, observed: false },
  ]);
  const text = formatMatrices(expected, observed).split('\n');
  assert.match(text[0]!, /^expected\s+observed\s+mismatches$/);
  assert.equal(text.length, 11);
  const yb = text.find((l) => l.startsWith('y/b'))!;
  // Three tables on the row: the expected row all '.', observed 'X' under x/a, one mismatch.
  assert.equal(
    yb,
    [
      'y/b .   .   .   .   .   .   .   .   .',
      'y/b X   .   .   .   .   .   .   .   .',
      'y/b X   .   .   .   .   .   .   .   .',
    ].join('     '),
  );
  const zc = text.find((l) => l.startsWith('z/c'))!;
  assert.equal(
    zc,
    [
      'z/c .   .   .   .   .   .   .   .   .',
      'z/c .   .   .   .   .   .   .   .   X',
      'z/c .   .   .   .   .   .   .   .   .',
    ].join('     '),
  );
});

test('matrix harness: a wrong expectation fails the comparison (the test can fail)', () => {
  const cluster = matrixCluster([
    netpol('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }),
  ]);
  const observed = evaluatedMatrix(cluster, 'TCP', 80);
  assert.equal(mismatches(newMatrix(true), observed).length, 9 * 3 - 3);
});
