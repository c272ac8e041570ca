import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  broadcastAddress,
  cidrSize,
  containsCidr,
  containsIP,
  formatCidr,
  formatIPv4,
  hostAddresses,
  hostCount,
  isIPv4,
  nthSubnet,
  overlaps,
  parseCidr,
  parseIPv4,
  pickFreeAddress,
  pickFreeSubnet,
  subnetCount,
  tryParseCidr,
} from '../../src/ipam/cidr.js';
import { UsageError } from '../../src/util/errors.js';

const c = (text: string) => parseCidr(text);
const ip = (text: string) => parseIPv4(text);

test('ipam-cidr: addresses round-trip through numbers', () => {
  for (const text of ['0.0.0.0', '10.244.1.5', '255.255.255.255', '192.168.0.1']) {
    assert.equal(formatIPv4(parseIPv4(text)), text);
  }
  assert.equal(parseIPv4('10.0.0.1'), 0x0a000001);
  assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
});

test('ipam-cidr: bad addresses are usage errors naming the field', () => {
  for (const bad of ['', '10.0.0', '10.0.0.256', '10.0.0.01', 'a.b.c.d', '1.2.3.4.5', ' 1.2.3.4']) {
    assert.equal(isIPv4(bad), false, bad);
    assert.throws(
      () => parseIPv4(bad, 'spec.clusterIP'),
      (e: Error) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, /^spec\.clusterIP ".*": not an IPv4 address/);
        return true;
      },
    );
  }
});

test('ipam-cidr: CIDRs parse strictly, or loosely for interface addresses', () => {
  assert.deepEqual(c('10.244.0.0/16'), { base: ip('10.244.0.0'), prefix: 16 });
  assert.equal(formatCidr(c('0.0.0.0/0')), '0.0.0.0/0');
  assert.equal(formatCidr(c('10.1.2.3/32')), '10.1.2.3/32');
  assert.throws(
    () => parseCidr('10.244.1.5/24', 'clusterCIDR'),
    /has host bits set \(the network is 10\.244\.1\.0\/24\)/,
  );
  assert.equal(formatCidr(parseCidr('10.244.1.5/24', 'x', { loose: true })), '10.244.1.0/24');
  for (const bad of [
    '10.0.0.0',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0/8',
    '10.0.0.0/08',
  ]) {
    assert.equal(tryParseCidr(bad), undefined, bad);
  }
});

test('ipam-cidr: sizes, network and broadcast', () => {
  const n = c('10.244.1.0/24');
  assert.equal(cidrSize(n), 256);
  assert.equal(formatIPv4(broadcastAddress(n)), '10.244.1.255');
  assert.equal(cidrSize(c('0.0.0.0/0')), 2 ** 32);
  assert.equal(formatIPv4(broadcastAddress(c('0.0.0.0/0'))), '255.255.255.255');
});

test('ipam-cidr: containment and overlap', () => {
  const cluster = c('10.244.0.0/16');
  assert.ok(containsIP(cluster, ip('10.244.255.255')));
  assert.ok(!containsIP(cluster, ip('10.245.0.0')));
  assert.ok(containsCidr(cluster, c('10.244.7.0/24')));
  assert.ok(!containsCidr(c('10.244.7.0/24'), cluster));
  assert.ok(!containsCidr(cluster, c('10.0.0.0/8')));
  assert.ok(overlaps(cluster, c('10.0.0.0/8')));
  assert.ok(!overlaps(cluster, c('10.96.0.0/12')));
});

test('ipam-cidr: nth subnet and subnet count', () => {
  const cluster = c('10.244.0.0/16');
  assert.equal(subnetCount(cluster, 24), 256);
  assert.equal(subnetCount(cluster, 8), 0);
  assert.equal(formatCidr(nthSubnet(cluster, 24, 0)), '10.244.0.0/24');
  assert.equal(formatCidr(nthSubnet(cluster, 24, 255)), '10.244.255.0/24');
  assert.equal(formatCidr(nthSubnet(cluster, 26, 5)), '10.244.1.64/26');
  assert.throws(() => nthSubnet(cluster, 24, 256), RangeError);
});

test('ipam-cidr: host addresses skip network and broadcast except in /31 and /32', () => {
  assert.deepEqual([...hostAddresses(c('10.0.0.0/30'))].map(formatIPv4), ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual([...hostAddresses(c('10.0.0.0/31'))].map(formatIPv4), ['10.0.0.0', '10.0.0.1']);
  assert.deepEqual([...hostAddresses(c('10.0.0.7/32'))].map(formatIPv4), ['10.0.0.7']);
  assert.equal(hostCount(c('10.244.1.0/24')), 254);
});

test('ipam-cidr: pickFreeSubnet takes the lowest subnet no taken block overlaps', () => {
  const cluster = c('10.244.0.0/16');
  assert.equal(formatCidr(pickFreeSubnet(cluster, 24, [])!), '10.244.0.0/24');
  const taken = ['10.244.0.0/24', '10.244.1.0/24', '10.244.3.0/24'].map(c);
  assert.equal(formatCidr(pickFreeSubnet(cluster, 24, taken)!), '10.244.2.0/24');
  // A larger reserved block (and one outside the cluster CIDR) counts too.
  const mixed = [c('10.244.0.0/22'), c('192.168.0.0/16'), c('10.244.4.128/25')];
  assert.equal(formatCidr(pickFreeSubnet(cluster, 24, mixed)!), '10.244.5.0/24');
  const full = [...Array(4).keys()].map((i) => nthSubnet(c('10.0.0.0/22'), 24, i));
  assert.equal(pickFreeSubnet(c('10.0.0.0/22'), 24, full), undefined);
  // Unordered input.
  assert.equal(
    formatCidr(pickFreeSubnet(c('10.0.0.0/22'), 24, [full[1]!, full[0]!, full[3]!])!),
    '10.0.2.0/24',
  );
});

test('ipam-cidr: pickFreeAddress round-robins from a start, skipping taken and reserved', () => {
  const subnet = c('10.244.1.0/24');
  const gw = ip('10.244.1.1');
  assert.equal(formatIPv4(pickFreeAddress(subnet, new Set(), { reserved: [gw] })!), '10.244.1.2');
  const taken = new Set([ip('10.244.1.2'), ip('10.244.1.3')]);
  assert.equal(formatIPv4(pickFreeAddress(subnet, taken, { reserved: [gw] })!), '10.244.1.4');
  // Searching from near the end wraps around to the start.
  const fromEnd = pickFreeAddress(subnet, new Set([ip('10.244.1.254')]), {
    from: ip('10.244.1.254'),
    reserved: [gw],
  });
  assert.equal(formatIPv4(fromEnd!), '10.244.1.2');
  // A start outside the host range is ignored.
  assert.equal(
    formatIPv4(pickFreeAddress(subnet, new Set(), { from: ip('10.0.0.1') })!),
    '10.244.1.1',
  );
  const all = new Set(hostAddresses(subnet));
  assert.equal(pickFreeAddress(subnet, all), undefined);
});
