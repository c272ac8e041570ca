// The ClusterNetwork per family: the lists and the singular fields agree, IPv4 stays first,
// and every bad setting is one line naming its field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from '../../src/api/validate.js';
import { DEFAULT_CLUSTER_NETWORK, type ClusterNetwork } from '../../src/api/types.js';
import { nodeSubnetPrefixOf, serviceFamilies, dnsIPFor } from '../../src/api/cluster-families.js';

const DUAL = {
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/112'],
};

function validate(spec: Record<string, unknown>) {
  return validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec,
  });
}

function admitted(spec: Record<string, unknown>): ClusterNetwork['spec'] {
  const r = validate(spec);
  assert.deepEqual(r.errors, []);
  return (r.object as ClusterNetwork).spec;
}

test('cluster families: an IPv4-only ClusterNetwork is stored exactly as before', () => {
  assert.deepEqual(admitted({}), DEFAULT_CLUSTER_NETWORK);
  const spec = admitted({ clusterCIDR: '10.10.0.0/16' });
  assert.equal(spec.clusterCIDRs, undefined);
  assert.deepEqual(serviceFamilies(spec), [4]);
});

test('cluster families: the lists set the singular fields and a DNS address per family', () => {
  const spec = admitted(DUAL);
  assert.equal(spec.clusterCIDR, '10.244.0.0/16');
  assert.equal(spec.serviceCIDR, '10.96.0.0/16');
  assert.equal(spec.dnsIP, '10.96.0.10');
  assert.deepEqual(spec.dnsIPs, ['10.96.0.10', 'fd00:10:96::a']);
  assert.deepEqual(serviceFamilies(spec), [4, 6]);
  assert.equal(dnsIPFor(spec, 6), 'fd00:10:96::a');
  assert.equal(nodeSubnetPrefixOf(spec, 4), 24);
  assert.equal(nodeSubnetPrefixOf(spec, 6), 64);
  const sized = admitted({
    ...DUAL,
    nodeSubnetPrefixIPv6: 80,
    dnsIPs: ['10.96.0.10', 'fd00:10:96::53'],
  });
  assert.equal(nodeSubnetPrefixOf(sized, 6), 80);
  assert.equal(dnsIPFor(sized, 6), 'fd00:10:96::53');
});

test('cluster families: an IPv6-only ClusterNetwork has IPv6 in the singular fields too', () => {
  const spec = admitted({
    clusterCIDRs: ['fd00:10:244::/56'],
    serviceCIDRs: ['fd00:10:96::/112'],
  });
  assert.equal(spec.clusterCIDR, 'fd00:10:244::/56');
  assert.equal(spec.serviceCIDR, 'fd00:10:96::/112');
  assert.equal(spec.dnsIP, 'fd00:10:96::a', 'the DNS address comes from the IPv6 service range');
  assert.deepEqual(serviceFamilies(spec), [6]);
  const singular = admitted({
    clusterCIDR: 'fd00:10:244::/56',
    serviceCIDR: 'fd00:10:96::/112',
    dnsIP: 'fd00:10:96::53',
  });
  assert.equal(dnsIPFor(singular, 6), 'fd00:10:96::53');
  assert.equal(dnsIPFor(singular, 4), undefined);
});

/** Each bad setting and the one line it must give. */
const BAD: [string, Record<string, unknown>, RegExp][] = [
  [
    'an IPv6 prefix in an IPv4-only field',
    { clusterCIDR: 'fd00::/48' },
    /^ClusterNetwork default: spec\.clusterCIDR: must be an IPv4 network/,
  ],
  [
    'two IPv6 clusterCIDRs',
    { clusterCIDRs: ['fd00:1::/48', 'fd00:2::/48'] },
    /^ClusterNetwork default: spec\.clusterCIDRs\[0\]: must be an IPv4 network \(IPv4 is the primary family.*got "fd00:1::\/48"$/,
  ],
  [
    'IPv6 pods with IPv4 services',
    { clusterCIDRs: ['fd00:10:244::/56'], serviceCIDRs: ['10.96.0.0/16'] },
    /^ClusterNetwork default: spec\.clusterCIDRs\[0\]: must be an IPv4 network \(IPv4 is the primary family unless pods and services are both IPv6 alone.*got "fd00:10:244::\/56"$/,
  ],
  [
    'IPv6 services first on a dual-stack pod network',
    { ...DUAL, serviceCIDRs: ['fd00:10:96::/112', '10.96.0.0/16'] },
    /^ClusterNetwork default: spec\.serviceCIDRs\[0\]: must be an IPv4 network/,
  ],
  [
    'an IPv4 DNS address on an IPv6-only cluster',
    { clusterCIDRs: ['fd00:10:244::/56'], serviceCIDRs: ['fd00:10:96::/112'], dnsIP: '10.96.0.10' },
    /^ClusterNetwork default: spec\.dnsIP: must be inside an IPv4 service CIDR, and the cluster has none, got "10\.96\.0\.10"$/,
  ],
  [
    'IP-in-IP on an IPv6-only cluster',
    { clusterCIDRs: ['fd00:10:244::/56'], serviceCIDRs: ['fd00:10:96::/112'], backend: 'ipip' },
    /^ClusterNetwork default: spec\.backend: ipip carries IPv4 pods only, and this cluster is IPv6-only \(use vxlan, host-gw or auto\)$/,
  ],
  [
    'two IPv4 serviceCIDRs',
    { serviceCIDRs: ['10.96.0.0/16', '10.97.0.0/16'] },
    /^ClusterNetwork default: spec\.serviceCIDRs\[1\]: must be an IPv6 network \(at most one per family\), got "10\.97\.0\.0\/16"$/,
  ],
  [
    'three clusterCIDRs',
    { clusterCIDRs: ['10.244.0.0/16', 'fd00::/48', 'fd01::/48'] },
    /^ClusterNetwork default: spec\.clusterCIDRs: must list at most one entry per family \(two\)/,
  ],
  [
    'a singular field that is not the list head',
    { ...DUAL, clusterCIDR: '10.245.0.0/16' },
    /^ClusterNetwork default: spec\.clusterCIDR: must equal spec\.clusterCIDRs\[0\] "10\.244\.0\.0\/16"/,
  ],
  [
    'overlapping cluster and service CIDRs',
    { clusterCIDR: '10.96.0.0/12' },
    /^ClusterNetwork default: spec\.serviceCIDR: must not overlap the cluster CIDR 10\.96\.0\.0\/12 .*got "10\.96\.0\.0\/16"$/,
  ],
  [
    'overlapping IPv6 cluster and service CIDRs',
    { clusterCIDRs: DUAL.clusterCIDRs, serviceCIDRs: ['10.96.0.0/16', 'fd00:10:244:1::/112'] },
    /^ClusterNetwork default: spec\.serviceCIDRs\[1\]: must not overlap the cluster CIDR fd00:10:244::\/56 /,
  ],
  [
    'a node subnet larger than the cluster CIDR',
    { clusterCIDR: '10.244.0.0/20', nodeSubnetPrefix: 16 },
    /^ClusterNetwork default: spec\.nodeSubnetPrefix: must be at least the clusterCIDR prefix \/20, got 16$/,
  ],
  [
    'an IPv6 node subnet larger than the IPv6 cluster CIDR',
    { ...DUAL, nodeSubnetPrefixIPv6: 48 },
    /^ClusterNetwork default: spec\.nodeSubnetPrefixIPv6: must be at least the IPv6 clusterCIDRs entry prefix \/56, got 48$/,
  ],
  [
    'IPv6 services without IPv6 pods',
    { serviceCIDRs: DUAL.serviceCIDRs },
    /^ClusterNetwork default: spec\.serviceCIDRs\[1\]: the pods have no IPv6 network/,
  ],
  [
    "a DNS address outside its family's service CIDR",
    { ...DUAL, dnsIPs: ['10.96.0.10', 'fd00:99::a'] },
    /^ClusterNetwork default: spec\.dnsIPs\[1\]: must be inside the service CIDR fd00:10:96::\/112, got "fd00:99::a"$/,
  ],
  [
    'a DNS address of a family the services lack',
    { dnsIPs: ['10.96.0.10', 'fd00:99::a'] },
    /^ClusterNetwork default: spec\.dnsIPs\[1\]: must be inside an IPv6 service CIDR, and the cluster has none/,
  ],
];

for (const [what, spec, message] of BAD) {
  test(`cluster families: ${what} is one line naming the field`, () => {
    const r = validate(spec);
    assert.equal(r.errors.length, 1, r.errors.join('\n'));
    assert.match(r.errors[0]!, message);
  });
}
