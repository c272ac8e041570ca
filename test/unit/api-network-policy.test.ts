// The NetworkPolicy kind at admission: the API server's defaults, and refusals that name the
// field at fault.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from '../../src/api/validate.js';
import { kindByAlias } from '../../src/api/kinds.js';
import { objectTable } from '../../src/api/table.js';
import { formatLabelSelector, selectorMatches } from '../../src/api/label-selector.js';
import type { NetworkPolicy } from '../../src/api/types.js';

const policy = (spec: Record<string, unknown>) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'p', namespace: 'x' },
  spec,
});

function admitted(spec: Record<string, unknown>): NetworkPolicy['spec'] {
  const r = validateObject(policy(spec));
  assert.deepEqual(r.errors, []);
  return (r.object as NetworkPolicy).spec;
}

test('netpol kind: kubectl names it netpol, networkpolicy and networkpolicies', () => {
  for (const word of ['netpol', 'networkpolicy', 'networkpolicies', 'NetworkPolicy']) {
    assert.equal(kindByAlias(word)?.kind, 'NetworkPolicy', word);
  }
  assert.equal(kindByAlias('netpol')?.apiVersion, 'networking.k8s.io/v1');
});

test('netpol defaults: policyTypes as the API server writes them; ports default to TCP; podSelector to {}', () => {
  assert.deepEqual(admitted({}).policyTypes, ['Ingress']);
  assert.deepEqual(admitted({}).podSelector, {});
  // An egress-only-looking policy isolates ingress too.
  assert.deepEqual(admitted({ egress: [{}] }).policyTypes, ['Ingress', 'Egress']);
  // An empty egress list counts as no egress section.
  assert.deepEqual(admitted({ egress: [] }).policyTypes, ['Ingress']);
  assert.deepEqual(admitted({ ingress: [{}] }).policyTypes, ['Ingress']);
  assert.deepEqual(admitted({ policyTypes: ['Egress'] }).policyTypes, ['Egress']);
  assert.deepEqual(admitted({ policyTypes: [], egress: [{}] }).policyTypes, ['Ingress', 'Egress']);
  const spec = admitted({ ingress: [{ ports: [{ port: 80 }, { protocol: 'UDP', port: 53 }] }] });
  assert.deepEqual(spec.ingress![0]!.ports, [
    { port: 80, protocol: 'TCP' },
    { protocol: 'UDP', port: 53 },
  ]);
});

test('netpol: good peers and ports are admitted (named ports, endPort ranges, ipBlock except)', () => {
  admitted({
    podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a'] }] },
    ingress: [
      {
        from: [
          { podSelector: {}, namespaceSelector: { matchLabels: { ns: 'y' } } },
          { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16', '10.2.3.4/32'] } },
          { ipBlock: { cidr: 'fd00::/64', except: ['fd00::/80'] } },
        ],
        ports: [{ port: 'serve-80' }, { port: 80, endPort: 81 }, { protocol: 'SCTP' }],
      },
    ],
  });
});

const BAD: [string, Record<string, unknown>, string][] = [
  [
    'an except outside cidr',
    { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] },
    'spec.ingress[0].from[0].ipBlock.except[0]: must be strictly inside cidr 10.0.0.0/16, got "10.1.0.0/24"',
  ],
  [
    'an except equal to cidr',
    { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16'] } }] }] },
    'spec.egress[0].to[0].ipBlock.except[0]: must be strictly inside cidr 10.0.0.0/16, got "10.0.0.0/16"',
  ],
  [
    'an except of the other family',
    { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['fd00::/64'] } }] }] },
    'spec.egress[0].to[0].ipBlock.except[0]: must be strictly inside cidr 10.0.0.0/16, got "fd00::/64"',
  ],
  [
    'a cidr that is not one',
    { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0' } }] }] },
    'spec.ingress[0].from[0].ipBlock.cidr: must be a network like 10.0.0.0/16, got "10.0.0.0"',
  ],
  [
    'endPort below port',
    { ingress: [{ ports: [{ port: 81, endPort: 80 }] }] },
    'spec.ingress[0].ports[0].endPort: must be at least port 81, got 80',
  ],
  [
    'endPort with a named port',
    { egress: [{ ports: [{ port: 'serve-80', endPort: 90 }] }] },
    'spec.egress[0].ports[0].endPort: may not be set when port is a name ("serve-80")',
  ],
  [
    'endPort without port',
    { ingress: [{ ports: [{ endPort: 90 }] }] },
    'spec.ingress[0].ports[0].endPort: may not be set without port',
  ],
  [
    'an unknown protocol',
    { ingress: [{ ports: [{ protocol: 'ICMP', port: 80 }] }] },
    'spec.ingress[0].ports[0].protocol: must be one of TCP, UDP, SCTP, got "ICMP"',
  ],
  [
    'an empty peer',
    { ingress: [{ from: [{}] }] },
    'spec.ingress[0].from[0]: must name a podSelector, a namespaceSelector or an ipBlock',
  ],
  [
    'ipBlock beside a selector',
    { egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' }, namespaceSelector: {} }] }] },
    'spec.egress[0].to[0]: may not combine ipBlock with a podSelector or namespaceSelector',
  ],
  [
    'an unknown policy type',
    { policyTypes: ['Forward'] },
    'spec.policyTypes[0]: must be one of Ingress, Egress, got "Forward"',
  ],
  [
    'In without values',
    { podSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } },
    'spec.podSelector.matchExpressions[0].values: must be non-empty for In',
  ],
  [
    'Exists with values',
    {
      ingress: [
        {
          from: [
            {
              namespaceSelector: {
                matchExpressions: [{ key: 'a', operator: 'Exists', values: ['b'] }],
              },
            },
          ],
        },
      ],
    },
    'spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: must be empty for Exists',
  ],
  [
    'a port out of range',
    { ingress: [{ ports: [{ port: 70000 }] }] },
    'spec.ingress[0].ports[0].port: must be 1-65535, got 70000',
  ],
];

for (const [what, spec, message] of BAD) {
  test(`netpol refused: ${what}, with the field path`, () => {
    const r = validateObject(policy(spec));
    assert.equal(r.object, undefined);
    assert.deepEqual(r.errors, [`NetworkPolicy x/p: ${message}`]);
  });
}

test('label selectors: pairs AND expressions; NotIn and DoesNotExist match a missing key', () => {
  const labels = { pod: 'a', tier: 'web' };
  assert.equal(selectorMatches({}, labels), true);
  assert.equal(selectorMatches({}, undefined), true);
  assert.equal(selectorMatches({ matchLabels: { pod: 'a' } }, labels), true);
  assert.equal(selectorMatches({ matchLabels: { pod: 'a', tier: 'db' } }, labels), false);
  const expr = (operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist', values?: string[]) => ({
    matchExpressions: [{ key: 'env', operator, ...(values ? { values } : {}) }],
  });
  assert.equal(selectorMatches(expr('In', ['prod']), labels), false);
  assert.equal(selectorMatches(expr('In', ['prod']), { env: 'prod' }), true);
  assert.equal(selectorMatches(expr('NotIn', ['prod']), labels), true);
  assert.equal(selectorMatches(expr('NotIn', ['prod']), { env: 'prod' }), false);
  assert.equal(selectorMatches(expr('Exists'), labels), false);
  assert.equal(selectorMatches(expr('DoesNotExist'), labels), true);
  assert.equal(
    selectorMatches({ matchLabels: { pod: 'a' }, ...expr('Exists') }, { pod: 'a', env: '' }),
    true,
  );
});

test('netpol table: NAME POD-SELECTOR AGE, the selector as kubectl prints it', () => {
  const now = new Date('2025-01-01T00:01:00Z');
  const objects = [
    { podSelector: {} },
    {
      podSelector: {
        matchLabels: { pod: 'a' },
        matchExpressions: [
          { key: 'tier', operator: 'NotIn', values: ['web', 'db'] },
          { key: 'env', operator: 'DoesNotExist' },
        ],
      },
    },
  ].map((spec, i) => ({
    ...(policy(spec) as NetworkPolicy),
    metadata: { name: `p${i}`, namespace: 'x', creationTimestamp: '2025-01-01T00:00:00Z' },
  }));
  assert.equal(
    objectTable('NetworkPolicy', objects, { now }),
    [
      'NAME   POD-SELECTOR                     AGE',
      'p0     <none>                           60s',
      'p1     !env,pod=a,tier notin (db,web)   60s',
    ].join('\n'),
  );
  assert.equal(formatLabelSelector(undefined), '<none>');
});
