import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddressError,
  cidrSize,
  containsCidr,
  containsIP,
  formatCidr,
  formatIP,
  hostAddresses,
  hostCount,
  hostRange,
  lastAddress,
  nthSubnet,
  overlaps,
  parseCidr,
  parseIP,
  subnetCount,
  tryParseCidr,
} from '../../src/net/index.js';

const c = (text: string) => parseCidr(text);
const ip = (text: string) => parseIP(text);

test('net-prefix: prefixes of both families parse and print canonically', () => {
  assert.deepEqual(c('10.244.0.0/16'), { family: 4, base: 0x0af40000n, prefix: 16 });
  assert.equal(formatCidr(c('0.0.0.0/0')), '0.0.0.0/0');
  assert.equal(formatCidr(c('10.1.2.3/32')), '10.1.2.3/32');
  assert.equal(formatCidr(c('2001:DB8:0:0::/64')), '2001:db8::/64');
  assert.equal(formatCidr(c('::/0')), '::/0');
  assert.equal(formatCidr(c('2001:db8::1/128')), '2001:db8::1/128');
});

test('net-prefix: host bits are refused, or masked off when asked to be loose', () => {
  assert.throws(
    () => parseCidr('10.244.1.5/24'),
    (e: Error) =>
      e instanceof AddressError &&
      e.message === '"10.244.1.5/24": has host bits set (the network is 10.244.1.0/24)',
  );
  assert.equal(formatCidr(parseCidr('10.244.1.5/24', { loose: true })), '10.244.1.0/24');
  assert.throws(() => parseCidr('2001:db8::1/64'), /the network is 2001:db8::\/64/);
  assert.equal(formatCidr(parseCidr('2001:db8::1/64', { loose: true })), '2001:db8::/64');
});

test('net-prefix: malformed prefixes are refused with the text quoted', () => {
  assert.throws(() => parseCidr('10.0.0.0/33'), /"10\.0\.0\.0\/33": prefix length 33 is longer/);
  assert.throws(
    () => parseCidr('::/129'),
    /"::\/129": prefix length 129 is longer than IPv6's 128/,
  );
  assert.throws(
    () => parseCidr('10.244.1/24'),
    /^AddressError: "10\.244\.1\/24": not an IPv4 or IPv6 prefix/,
  );
  for (const bad of [
    '10.0.0.0',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0/8',
    '10.0.0.0/08',
    '010.0.0.0/8',
    '10.0.0.0/-1',
    '10.0.0.0/ 8',
    '/8',
    '2001:db8::/064',
    'fe80::%eth0/64',
  ]) {
    assert.equal(tryParseCidr(bad), undefined, bad);
  }
});

test('net-prefix: sizes and last addresses, IPv4 and IPv6', () => {
  assert.equal(cidrSize(c('10.244.1.0/24')), 256n);
  assert.equal(cidrSize(c('0.0.0.0/0')), 2n ** 32n);
  assert.equal(formatIP(lastAddress(c('10.244.1.0/24'))), '10.244.1.255');
  assert.equal(cidrSize(c('::/0')), 2n ** 128n);
  assert.equal(formatIP(lastAddress(c('2001:db8::/64'))), '2001:db8::ffff:ffff:ffff:ffff');
});

test('net-prefix: containment and overlap, never across families', () => {
  const cluster = c('10.244.0.0/16');
  assert.ok(containsIP(cluster, ip('10.244.255.255')));
  assert.ok(!containsIP(cluster, ip('10.245.0.0')));
  assert.ok(containsCidr(cluster, c('10.244.7.0/24')));
  assert.ok(!containsCidr(c('10.244.7.0/24'), cluster));
  assert.ok(overlaps(cluster, c('10.0.0.0/8')));
  assert.ok(!overlaps(cluster, c('10.96.0.0/12')));
  assert.ok(containsIP(c('2001:db8::/32'), ip('2001:db8:ffff::1')));
  // The same integers in the other family are not inside.
  assert.ok(!containsIP(c('0.0.0.0/0'), ip('::1')));
  assert.ok(!containsIP(c('::/0'), ip('10.0.0.1')));
  assert.ok(!containsIP(c('::/96'), ip('0.0.0.1')));
  assert.ok(!containsCidr(c('::/0'), c('10.0.0.0/8')));
  assert.ok(!overlaps(c('0.0.0.0/0'), c('::/0')));
});

test('net-prefix: nth subnet and subnet count in both families', () => {
  const cluster = c('10.244.0.0/16');
  assert.equal(subnetCount(cluster, 24), 256n);
  assert.equal(subnetCount(cluster, 8), 0n);
  assert.equal(formatCidr(nthSubnet(cluster, 24, 255)), '10.244.255.0/24');
  assert.equal(formatCidr(nthSubnet(cluster, 26, 5)), '10.244.1.64/26');
  assert.throws(() => nthSubnet(cluster, 24, 256), RangeError);
  const v6 = c('fd00:10:244::/56');
  assert.equal(subnetCount(v6, 64), 256n);
  assert.equal(formatCidr(nthSubnet(v6, 64, 1)), 'fd00:10:244:1::/64');
  assert.equal(formatCidr(nthSubnet(v6, 64, 255)), 'fd00:10:244:ff::/64');
});

test('net-prefix: host addresses, iterated across a boundary', () => {
  const fmt = (text: string) => [...hostAddresses(c(text))].map(formatIP);
  assert.deepEqual(fmt('10.0.0.0/30'), ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(fmt('10.0.0.0/31'), ['10.0.0.0', '10.0.0.1']);
  assert.deepEqual(fmt('10.0.0.7/32'), ['10.0.0.7']);
  assert.equal(hostCount(c('10.244.1.0/24')), 254n);
  // Iteration carries from one octet into the next.
  const wide = [...hostAddresses(c('10.0.0.0/23'))].map(formatIP);
  assert.deepEqual(wide.slice(254, 257), ['10.0.0.255', '10.0.1.0', '10.0.1.1']);
  // IPv6 has no broadcast: only the subnet-router anycast address (the first) is left out.
  assert.deepEqual(fmt('2001:db8::/126'), ['2001:db8::1', '2001:db8::2', '2001:db8::3']);
  assert.deepEqual(fmt('2001:db8::/127'), ['2001:db8::', '2001:db8::1']);
  assert.equal(hostCount(c('2001:db8::/64')), 2n ** 64n - 1n);
  const { first, last } = hostRange(c('2001:db8::fff0/124'));
  assert.deepEqual([formatIP(first), formatIP(last)], ['2001:db8::fff1', '2001:db8::ffff']);
});
