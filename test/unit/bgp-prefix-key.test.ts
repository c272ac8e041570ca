import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatIpv4Key,
  ipv4KeyLength,
  ipv4KeyWord,
  ipv4PrefixKey,
  parseIpv4Key,
  type Ipv4PrefixKey,
} from '../../src/bgp/prefix-key.js';
import { ipv4Word, readPrefixes, writePrefix } from '../../src/bgp/ipv4.js';

const EDGES = [
  '0.0.0.0/0',
  '128.0.0.0/1',
  '10.0.0.0/8',
  '11.22.33.0/24',
  '192.168.255.252/30',
  '255.255.255.254/31',
  '0.0.0.0/32',
  '10.244.1.7/32',
  '255.255.255.255/32',
];

test('bgp prefix key: text → key → text at every edge length', () => {
  for (const text of EDGES) {
    const key = parseIpv4Key(text);
    assert.equal(formatIpv4Key(key), text);
    assert.equal(ipv4KeyLength(key), Number(text.split('/')[1]));
    assert.equal(ipv4KeyWord(key), ipv4Word(text.split('/')[0]!));
  }
});

test('bgp prefix key: every length of one address is a different key, host bits are not', () => {
  const word = ipv4Word('255.255.255.255');
  const keys = new Set<number>();
  for (let length = 0; length <= 32; length++) {
    const key = ipv4PrefixKey(word, length);
    // Each length has its own range [2^len, 2^(len+1)): lengths never collide.
    assert.ok(key >= 2 ** length && key < 2 ** (length + 1), `/${length}: ${key}`);
    assert.equal(ipv4KeyLength(key), length);
    keys.add(key);
  }
  assert.equal(keys.size, 33);
  assert.equal(parseIpv4Key('10.244.1.77/24'), parseIpv4Key('10.244.1.0/24'));
  assert.equal(ipv4PrefixKey(ipv4Word('10.244.1.77'), 24), parseIpv4Key('10.244.1.0/24'));
  // Up to /30 a key stays a small integer (under 2^31), which V8 keeps unboxed.
  assert.ok(parseIpv4Key('255.255.255.252/30') < 2 ** 31);
  assert.throws(() => parseIpv4Key('2001:db8::/32'), /not an IPv4 prefix/);
});

test('bgp prefix key: the wire form reads back as the same key, noise bits dropped', () => {
  const keys = EDGES.map(parseIpv4Key);
  const buf = Buffer.alloc(5 * keys.length);
  let end = 0;
  for (const key of keys) end = writePrefix(buf, end, key);
  // /0 takes one octet, /1-/8 two, ..., /25-/32 five.
  assert.equal(
    end,
    [1, 2, 2, 4, 5, 5, 5, 5, 5].reduce((a, b) => a + b),
  );
  assert.deepEqual(readPrefixes(buf, 0, end), keys);
  // 10.244.1.0/23 sent with the host bit of its third octet set is still 10.244.0.0/23.
  const noisy = Buffer.from([23, 10, 244, 1]);
  assert.deepEqual(readPrefixes(noisy, 0, noisy.length)?.map(formatIpv4Key), ['10.244.0.0/23']);
  // A length over 32, or octets missing, is refused.
  assert.equal(readPrefixes(Buffer.from([33, 1, 2, 3, 4, 5]), 0, 6), undefined);
  assert.equal(readPrefixes(Buffer.from([24, 10, 244]), 0, 3), undefined);
});

test('bgp prefix key: a RIB-sized run of keys round-trips', () => {
  const keys: Ipv4PrefixKey[] = [];
  for (let i = 0; i < 4096; i++) keys.push(ipv4PrefixKey((i * 0x9e3779b1) >>> 0, i % 33));
  for (const key of keys) assert.equal(parseIpv4Key(formatIpv4Key(key)), key);
  assert.equal(new Set(keys.map(formatIpv4Key)).size, new Set(keys).size);
});
