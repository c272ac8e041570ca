import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatCidr,
  formatIP,
  hostAddresses,
  nthSubnet,
  parseCidr,
  parseIP,
} from '../../src/net/index.js';
import { pickFreeAddress, pickFreeSubnet } from '../../src/ipam/pick-free.js';

const c = (text: string) => parseCidr(text);
const ip = (text: string) => parseIP(text);
const values = (...texts: string[]) => new Set(texts.map((t) => ip(t).value));

test('ipam-pick-free: pickFreeSubnet takes the lowest subnet no taken block overlaps', () => {
  const cluster = c('10.244.0.0/16');
  assert.equal(formatCidr(pickFreeSubnet(cluster, 24, [])!), '10.244.0.0/24');
  const taken = ['10.244.0.0/24', '10.244.1.0/24', '10.244.3.0/24'].map(c);
  assert.equal(formatCidr(pickFreeSubnet(cluster, 24, taken)!), '10.244.2.0/24');
  // A larger reserved block (and one outside the cluster CIDR, or of the other family) counts too.
  const mixed = [c('10.244.0.0/22'), c('192.168.0.0/16'), c('10.244.4.128/25'), c('::/0')];
  assert.equal(formatCidr(pickFreeSubnet(cluster, 24, mixed)!), '10.244.5.0/24');
  const full = [...Array(4).keys()].map((i) => nthSubnet(c('10.0.0.0/22'), 24, i));
  assert.equal(pickFreeSubnet(c('10.0.0.0/22'), 24, full), undefined);
  assert.equal(
    formatCidr(pickFreeSubnet(c('10.0.0.0/22'), 24, [full[1]!, full[0]!, full[3]!])!),
    '10.0.2.0/24',
  );
  const v6 = c('fd00:10:244::/56');
  assert.equal(formatCidr(pickFreeSubnet(v6, 64, [c('fd00:10:244::/63')])!), 'fd00:10:244:2::/64');
});

test('ipam-pick-free: pickFreeAddress round-robins from a start, skipping taken and reserved', () => {
  const subnet = c('10.244.1.0/24');
  const gw = ip('10.244.1.1');
  assert.equal(formatIP(pickFreeAddress(subnet, new Set(), { reserved: [gw] })!), '10.244.1.2');
  const taken = values('10.244.1.2', '10.244.1.3');
  assert.equal(formatIP(pickFreeAddress(subnet, taken, { reserved: [gw] })!), '10.244.1.4');
  // Searching from near the end wraps around to the start.
  const fromEnd = pickFreeAddress(subnet, values('10.244.1.254'), {
    from: ip('10.244.1.254'),
    reserved: [gw],
  });
  assert.equal(formatIP(fromEnd!), '10.244.1.2');
  // A start outside the host range is ignored.
  assert.equal(
    formatIP(pickFreeAddress(subnet, new Set(), { from: ip('10.0.0.1') })!),
    '10.244.1.1',
  );
  const all = new Set([...hostAddresses(subnet)].map((a) => a.value));
  assert.equal(pickFreeAddress(subnet, all), undefined);
  assert.equal(
    formatIP(pickFreeAddress(c('2001:db8::/120'), values('2001:db8::1'))!),
    '2001:db8::2',
  );
});
