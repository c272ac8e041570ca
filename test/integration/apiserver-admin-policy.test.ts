// The admin policies through `podnet apiserver` with kubectl: applied, listed by their short
// names with the priority column, read back by `podnet get`, and refused the way the upstream
// CRDs refuse them (a baseline not named default).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ok, startTempApiServer, type TempApiServer } from '../helpers/apiserver.js';

let api: TempApiServer;

before(async () => {
  api = await startTempApiServer('pnt-apiserver-anp-');
});

after(async () => {
  await api?.close();
});

const ANP = `apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: guard}
spec:
  priority: 7
  subject: {namespaces: {matchLabels: {team: red}}}
  ingress:
  - {name: no-blue, action: Deny, from: [{namespaces: {matchLabels: {team: blue}}}]}
  egress:
  - {action: Pass, to: [{networks: [10.0.0.0/8]}], ports: [{portNumber: {port: 53}}]}
`;

test('kubectl applies an AdminNetworkPolicy and lists it as anp with its priority', () => {
  assert.match(ok(api.kubectl(['apply', '-f', '-'], ANP)), /adminnetworkpolicy.* created/);
  assert.match(ok(api.kubectl(['get', 'anp'])), /^NAME\s+PRIORITY\s+AGE\nguard\s+7\s+/);
  const stored = JSON.parse(ok(api.podnet(['get', 'anp', 'guard', '-o', 'json']))) as {
    spec: { egress: { ports: { portNumber: { protocol: string } }[] }[] };
  };
  assert.equal(stored.spec.egress[0]!.ports[0]!.portNumber.protocol, 'TCP', 'defaulted');
});

test('the baseline must be named default; kubectl is told which field is wrong', () => {
  const banp = (name: string) =>
    `apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n  subject: {namespaces: {}}\n  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n`;
  const refused = api.kubectl(['apply', '-f', '-'], banp('other'));
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /metadata\.name: a BaselineAdminNetworkPolicy must be named "default"/);
  ok(api.kubectl(['apply', '-f', '-'], banp('default')));
  assert.match(ok(api.kubectl(['get', 'banp'])), /^NAME\s+AGE\ndefault\s+/);
  assert.match(ok(api.podnet(['get', 'banp'])), /^NAME\s+AGE\ndefault\s+/);
});
