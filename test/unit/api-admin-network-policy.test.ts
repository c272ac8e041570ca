// AdminNetworkPolicy and BaselineAdminNetworkPolicy at admission: their names on the command
// line, the defaults written, and refusals that name the field at fault.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from '../../src/api/validate.js';
import { kindByAlias } from '../../src/api/kinds.js';
import { objectTable } from '../../src/api/table.js';
import type { AdminNetworkPolicy } from '../../src/api/types.js';

const anp = (spec: Record<string, unknown>, name = 'a') => ({
  apiVersion: 'policy.networking.k8s.io/v1alpha1',
  kind: 'AdminNetworkPolicy',
  metadata: { name },
  spec,
});
const banp = (spec: Record<string, unknown>, name = 'default') => ({
  ...anp(spec, name),
  kind: 'BaselineAdminNetworkPolicy',
});

const SUBJECT = { namespaces: { matchLabels: { team: 'red' } } };
const FROM_ALL = [{ namespaces: {} }];

const errorsOf = (doc: Record<string, unknown>) => validateObject(doc).errors;

test('anp and banp: kubectl names them by plural, singular and short name, cluster-scoped', () => {
  for (const word of ['anp', 'adminnetworkpolicy', 'adminnetworkpolicies']) {
    assert.equal(kindByAlias(word)?.kind, 'AdminNetworkPolicy', word);
  }
  for (const word of ['banp', 'baselineadminnetworkpolicy', 'baselineadminnetworkpolicies']) {
    assert.equal(kindByAlias(word)?.kind, 'BaselineAdminNetworkPolicy', word);
  }
  assert.equal(kindByAlias('anp')?.apiVersion, 'policy.networking.k8s.io/v1alpha1');
  assert.equal(kindByAlias('banp')?.namespaced, false);
});

test('a well-formed ANP is admitted, port protocols defaulted to TCP', () => {
  const r = validateObject(
    anp({
      priority: 10,
      subject: SUBJECT,
      ingress: [
        { name: 'web', action: 'Allow', from: FROM_ALL, ports: [{ portNumber: { port: 80 } }] },
      ],
      egress: [
        {
          action: 'Deny',
          to: [{ networks: ['10.0.0.0/8'] }],
          ports: [{ portRange: { start: 80, end: 90 } }, { namedPort: 'http' }],
        },
      ],
    }),
  );
  assert.deepEqual(r.errors, []);
  const spec = (r.object as AdminNetworkPolicy).spec;
  assert.deepEqual(spec.ingress![0]!.ports, [{ portNumber: { protocol: 'TCP', port: 80 } }]);
  assert.equal(spec.egress![0]!.ports![0]!.portRange!.protocol, 'TCP');
  assert.match(
    objectTable('AdminNetworkPolicy', [r.object!], { now: new Date() }),
    /^NAME\s+PRIORITY\s+AGE\na\s+10\s+/,
  );
});

test('refusals name the field: priority, peers, ports, networks on ingress', () => {
  assert.deepEqual(errorsOf(anp({ priority: 1001, subject: SUBJECT })), [
    'AdminNetworkPolicy a: spec.priority: must be 0-1000, got 1001',
  ]);
  assert.match(
    errorsOf(
      anp({
        priority: 1,
        subject: { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } },
      }),
    ).join(),
    /spec\.subject: must give exactly one of namespaces or pods, got namespaces, pods/,
  );
  assert.match(
    errorsOf(
      anp({
        priority: 1,
        subject: SUBJECT,
        ingress: [{ action: 'Deny', from: [{ networks: ['10.0.0.0/8'] }] }],
      }),
    ).join(),
    /spec\.ingress\[0\]\.from\[0\]\.networks: only egress peers may name networks/,
  );
  assert.match(
    errorsOf(
      anp({
        priority: 1,
        subject: SUBJECT,
        egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.1/8'] }] }],
      }),
    ).join(),
    /spec\.egress\[0\]\.to\[0\]\.networks\[0\]: must be a network like 10\.0\.0\.0\/8, got "10\.0\.0\.1\/8"/,
  );
  assert.match(
    errorsOf(
      anp({ priority: 1, subject: SUBJECT, egress: [{ action: 'Deny', to: [{ nodes: {} }] }] }),
    ).join(),
    /spec\.egress\[0\]\.to\[0\]: must give exactly one of namespaces, pods or networks, got nodes/,
  );
  assert.match(
    errorsOf(
      anp({
        priority: 1,
        subject: SUBJECT,
        ingress: [
          { action: 'Allow', from: FROM_ALL, ports: [{ portRange: { start: 90, end: 80 } }] },
        ],
      }),
    ).join(),
    /spec\.ingress\[0\]\.ports\[0\]\.portRange\.end: must be above start 90, got 80/,
  );
  assert.match(
    errorsOf(
      anp({ priority: 1, subject: SUBJECT, ingress: [{ action: 'Allow', from: [] }] }),
    ).join(),
    /spec\.ingress\[0\]\.from: must list at least one peer/,
  );
  assert.match(
    errorsOf(
      anp({ priority: 1, subject: SUBJECT, ingress: [{ action: 'Maybe', from: FROM_ALL }] }),
    ).join(),
    /spec\.ingress\[0\]\.action/,
  );
});

test('the baseline is one object named default, and may not Pass', () => {
  assert.deepEqual(
    errorsOf(banp({ subject: SUBJECT, ingress: [{ action: 'Deny', from: FROM_ALL }] })),
    [],
  );
  assert.match(
    errorsOf(banp({ subject: SUBJECT }, 'other')).join(),
    /metadata\.name: a BaselineAdminNetworkPolicy must be named "default", got "other"/,
  );
  assert.match(
    errorsOf(banp({ subject: SUBJECT, egress: [{ action: 'Pass', to: FROM_ALL }] })).join(),
    /spec\.egress\[0\]\.action: must be Allow or Deny in a BaselineAdminNetworkPolicy/,
  );
});
