// NetworkPolicy manifests through the real CLI (`bin/podnet apply/get/delete --store
// sqlite:<tmp>`): a policy applies with the API server's defaults and lists as kubectl lists
// it; a bad one is refused with its field path and exit 2, and nothing of its manifest is written.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CliOnTempStore } from '../helpers/cli-store.js';

const podnet = new CliOnTempStore('podnet-netpol-');
const { cli, manifest } = podnet;

before(() => podnet.createNamespaces(['x']));
after(() => podnet.remove());

const DNS_ONLY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: dns-only
  namespace: x
spec:
  podSelector:
    matchLabels: {pod: a}
  egress:
    - to:
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: kube-system}
      ports:
        - {protocol: UDP, port: 53}
        - {port: 53}
`;

test('netpol: a policy applies defaulted, lists as NAME POD-SELECTOR AGE, and deletes by short name', () => {
  const applied = cli(['apply', '-f', manifest('dns-only.yaml', DNS_ONLY)]);
  assert.equal(applied.code, 0, applied.err);
  assert.match(applied.out, /^networkpolicy\/dns-only created$/m);

  const table = cli(['get', 'netpol', '-n', 'x']);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^NAME\s+POD-SELECTOR\s+AGE\n/);
  assert.match(table.out, /^dns-only\s+pod=a\s+\d+s$/m);

  const got = JSON.parse(cli(['get', 'networkpolicy', 'dns-only', '-n', 'x', '-o', 'json']).out);
  assert.deepEqual(got.spec.policyTypes, ['Ingress', 'Egress'], 'defaulted as the API server does');
  assert.deepEqual(got.spec.egress[0].ports[1], { port: 53, protocol: 'TCP' });

  const deleted = cli(['delete', 'netpol', 'dns-only', '-n', 'x']);
  assert.equal(deleted.code, 0, deleted.err);
  assert.deepEqual(JSON.parse(cli(['get', 'netpol', '-n', 'x', '-o', 'json']).out).items, []);
});

const GOOD_POLICY = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: good, namespace: x}
spec:
  podSelector: {}
`;

const BAD: [string, string, RegExp][] = [
  [
    'except outside cidr',
    `ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]}]`,
    /spec\.ingress\[0\]\.from\[0\]\.ipBlock\.except\[0\]: must be strictly inside cidr 10\.0\.0\.0\/16/,
  ],
  [
    'endPort below port',
    `egress: [{ports: [{port: 81, endPort: 80}]}]`,
    /spec\.egress\[0\]\.ports\[0\]\.endPort: must be at least port 81, got 80/,
  ],
  [
    'named port with endPort',
    `ingress: [{ports: [{port: serve-80, endPort: 90}]}]`,
    /spec\.ingress\[0\]\.ports\[0\]\.endPort: may not be set when port is a name/,
  ],
  [
    'unknown protocol',
    `ingress: [{ports: [{protocol: ICMP}]}]`,
    /spec\.ingress\[0\]\.ports\[0\]\.protocol: must be one of TCP, UDP, SCTP, got "ICMP"/,
  ],
];

for (const [what, rules, message] of BAD) {
  test(`netpol: ${what} is refused with the field path, exit 2, nothing applied`, () => {
    // The good policy comes first: all-or-nothing means it must not be written either.
    const bad = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad, namespace: x}
spec:
  podSelector: {}
  ${rules}
`;
    const file = manifest(`bad-${what.replace(/\W+/g, '-')}.yaml`, `${GOOD_POLICY}---\n${bad}`);
    const r = cli(['apply', '-f', file]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, message);
    assert.match(r.err, /NetworkPolicy x\/bad: /);
    assert.match(r.err, /nothing was applied/);
    assert.equal(r.out, '');
    assert.deepEqual(JSON.parse(cli(['get', 'netpol', '-n', 'x', '-o', 'json']).out).items, []);
  });
}
