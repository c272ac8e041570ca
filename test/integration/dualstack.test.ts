// Dual-stack settings and services through the real CLI (`bin/podnet apply --store sqlite:`):
// each bad family setting is one line naming its field with exit 2 and nothing written; a
// dual-stack cluster gives RequireDualStack services an address per family.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CliOnTempStore } from '../helpers/cli-store.js';

const podnet = new CliOnTempStore('podnet-dualstack-');
const { cli, manifest } = podnet;

before(() => podnet.createNamespaces(['shop']));
after(() => podnet.remove());

const network = (spec: string): string => `apiVersion: podnet.io/v1
kind: ClusterNetwork
metadata: {name: default}
spec: ${spec}
`;

const service = (name: string, spec: string): string => `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: shop}
spec: {selector: {app: ${name}}, ports: [{port: 80}], ${spec}}
`;

/** Each bad ClusterNetwork and the one error line it must give. */
const BAD_NETWORKS: [string, string, RegExp][] = [
  [
    'an IPv6 prefix in an IPv4-only field',
    '{clusterCIDR: "fd00:10:244::/56"}',
    /^error: ClusterNetwork default: spec\.clusterCIDR: must be an IPv4 network/m,
  ],
  [
    'two IPv6 clusterCIDRs',
    '{clusterCIDRs: ["fd00:1::/56", "fd00:2::/56"]}',
    /^error: ClusterNetwork default: spec\.clusterCIDRs\[0\]: must be an IPv4 network/m,
  ],
  [
    'too many per family',
    '{serviceCIDRs: ["10.96.0.0/16", "10.97.0.0/16"]}',
    /^error: ClusterNetwork default: spec\.serviceCIDRs\[1\]: must be an IPv6 network \(at most one per family\)/m,
  ],
  [
    'overlapping cluster and service CIDRs',
    '{clusterCIDRs: ["10.244.0.0/16", "fd00:10::/48"], serviceCIDRs: ["10.96.0.0/16", "fd00:10:0:1::/112"]}',
    /^error: ClusterNetwork default: spec\.serviceCIDRs\[1\]: must not overlap the cluster CIDR fd00:10::\/48/m,
  ],
  [
    'a node subnet larger than the cluster CIDR',
    '{clusterCIDR: 10.244.0.0/20, nodeSubnetPrefix: 16}',
    /^error: ClusterNetwork default: spec\.nodeSubnetPrefix: must be at least the clusterCIDR prefix \/20, got 16$/m,
  ],
];

for (const [what, spec, message] of BAD_NETWORKS) {
  test(`dualstack: ${what} is one line naming the field, exit 2, nothing written`, () => {
    const r = cli(['apply', '-f', manifest('bad-network.yaml', network(spec))]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, message);
    assert.equal(r.err.split('\n').filter((l) => l.startsWith('error:')).length, 1, r.err);
    assert.doesNotMatch(r.err, /\bat .*\.js:\d+/, 'no stack trace');
    assert.equal(cli(['get', 'clusternetwork', 'default']).code, 1, 'nothing was written');
  });
}

test('dualstack: RequireDualStack on a single-stack cluster is refused in one line', () => {
  const r = cli([
    'apply',
    '-f',
    manifest('require.yaml', service('both', 'ipFamilyPolicy: RequireDualStack')),
  ]);
  assert.equal(r.code, 2, r.err);
  assert.match(
    r.err,
    /^error: Service shop\/both: spec\.ipFamilyPolicy: RequireDualStack needs a dual-stack cluster/m,
  );
  const prefer = cli([
    'apply',
    '-f',
    manifest('prefer.yaml', service('one', 'ipFamilyPolicy: PreferDualStack')),
  ]);
  assert.equal(prefer.code, 0, prefer.err);
  const spec = JSON.parse(cli(['get', 'svc', 'one', '-n', 'shop', '-o', 'json']).out).spec;
  assert.deepEqual(spec.ipFamilies, ['IPv4']);
  assert.equal(spec.clusterIPs.length, 1);
});

test('dualstack: a dual-stack cluster gives RequireDualStack services one address per family', () => {
  const dual = network(
    '{clusterCIDRs: ["10.244.0.0/16", "fd00:10:244::/56"], serviceCIDRs: ["10.96.0.0/16", "fd00:10:96::/112"]}',
  );
  const applied = cli(['apply', '-f', manifest('dual.yaml', dual)]);
  assert.equal(applied.code, 0, applied.err);
  const cn = JSON.parse(cli(['get', 'clusternetwork', 'default', '-o', 'json']).out).spec;
  assert.deepEqual(cn.dnsIPs, ['10.96.0.10', 'fd00:10:96::a']);
  const r = cli([
    'apply',
    '-f',
    manifest('web.yaml', service('web', 'ipFamilyPolicy: RequireDualStack')),
  ]);
  assert.equal(r.code, 0, r.err);
  const spec = JSON.parse(cli(['get', 'svc', 'web', '-n', 'shop', '-o', 'json']).out).spec;
  assert.deepEqual(spec.ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(spec.ipFamilyPolicy, 'RequireDualStack');
  assert.equal(spec.clusterIP, spec.clusterIPs[0]);
  assert.match(spec.clusterIPs[1], /^fd00:10:96::/);
});
