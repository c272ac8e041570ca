import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCidr, parseCidr } from '../../src/net/index.js';
import {
  planSubnetLease,
  renewAfterSeconds,
  subnetLeaseKey,
  subnetOfLeaseKey,
} from '../../src/ipam/subnet-lease.js';
import type { KeyValue } from '../../src/store/store.js';

const cluster = parseCidr('10.244.0.0/16');
const self = { node: 'node-2', publicIP: '172.31.1.2' };
let rev = 1;
const lease = (subnet: string, node: string, withLease = true): KeyValue => ({
  key: subnetLeaseKey(parseCidr(subnet)),
  value: JSON.stringify({ subnet, node, publicIP: '172.31.1.9' }),
  modRevision: rev,
  createRevision: rev++,
  ...(withLease ? { lease: 'L' } : {}),
});

test('ipam-subnet-lease: keys have flannel shape and round-trip', () => {
  assert.equal(subnetLeaseKey(parseCidr('10.244.1.0/24')), '/podnet/leases/subnets/10-244-1-0-24');
  assert.equal(
    formatCidr(subnetOfLeaseKey('/podnet/leases/subnets/10-244-1-0-24')!),
    '10.244.1.0/24',
  );
  assert.equal(subnetOfLeaseKey('/podnet/leases/subnets/garbage'), undefined);
});

test('ipam-subnet-lease: renewal comes an hour before expiry, or halfway for short TTLs', () => {
  assert.equal(renewAfterSeconds(24 * 3600), 23 * 3600);
  assert.equal(renewAfterSeconds(60), 30);
});

test('ipam-subnet-lease: a node takes back its own lease first', () => {
  const plan = planSubnetLease(
    [lease('10.244.0.0/24', 'node-1'), lease('10.244.5.0/24', 'node-2')],
    self,
    cluster,
    24,
  );
  assert.equal(plan.action, 'reuse');
  assert.equal(
    plan.action === 'reuse' && plan.existing.key,
    '/podnet/leases/subnets/10-244-5-0-24',
  );
});

test('ipam-subnet-lease: otherwise the lowest subnet neither leased nor reserved', () => {
  const plan = planSubnetLease(
    [lease('10.244.0.0/24', 'node-1'), lease('10.244.1.0/24', 'reserved', false)],
    self,
    cluster,
    24,
  );
  assert.deepEqual(plan, { action: 'create', subnet: parseCidr('10.244.2.0/24') });
  // An own lease of the wrong size (the prefix was changed) is not reused.
  const resized = planSubnetLease([lease('10.244.0.0/25', 'node-2')], self, cluster, 24);
  assert.deepEqual(resized, { action: 'create', subnet: parseCidr('10.244.1.0/24') });
});

test('ipam-subnet-lease: the subnet a node had before is taken again when still free', () => {
  const leases = [lease('10.244.0.0/24', 'node-1')];
  const back = planSubnetLease(leases, self, cluster, 24, parseCidr('10.244.7.0/24'));
  assert.deepEqual(back, { action: 'create', subnet: parseCidr('10.244.7.0/24') });
  const lost = planSubnetLease(leases, self, cluster, 24, parseCidr('10.244.0.0/24'));
  assert.deepEqual(lost, { action: 'create', subnet: parseCidr('10.244.1.0/24') });
});

test('ipam-subnet-lease: exhaustion names the CIDR and how many nodes it fits', () => {
  const small = parseCidr('10.244.0.0/23');
  const plan = planSubnetLease(
    [lease('10.244.0.0/24', 'a'), lease('10.244.1.0/24', 'b')],
    self,
    small,
    24,
  );
  assert.equal(plan.action, 'full');
  assert.match(
    plan.action === 'full' ? plan.message : '',
    /cluster CIDR 10\.244\.0\.0\/23 has no free \/24 node subnet: it fits 2 nodes/,
  );
});
