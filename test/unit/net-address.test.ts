import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddressError,
  addToIP,
  compareIP,
  formatIP,
  ipBytes,
  ipFromBytes,
  isIP,
  isIPv4,
  parseIP,
  parseIPv4,
  tryParseIP,
} from '../../src/net/index.js';

const canonical = (text: string): string => formatIP(parseIP(text));

test('net-address: IPv4 dotted quads round-trip and know their family', () => {
  for (const text of ['0.0.0.0', '10.244.1.5', '255.255.255.255', '192.168.0.1']) {
    const ip = parseIP(text);
    assert.equal(ip.family, 4);
    assert.equal(formatIP(ip), text);
  }
  assert.equal(parseIPv4('10.0.0.1').value, 0x0a000001n);
  assert.equal(parseIPv4('255.255.255.255').value, 0xffffffffn);
});

test('net-address: IPv4 text other readers would take differently is refused', () => {
  // Leading zeros: inet_aton reads 010 as octal (8), so "010.0.0.1" must not mean 10.0.0.1.
  for (const bad of [
    '010.0.0.1',
    '10.0.0.01',
    '00.0.0.0',
    '1.2.3',
    '256.1.1.1',
    '1.2.3.4.5',
    '0x0a.0.0.1',
    '10..0.1',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '',
    'a.b.c.d',
  ]) {
    assert.equal(tryParseIP(bad), undefined, bad);
    assert.equal(isIPv4(bad), false, bad);
    assert.throws(
      () => parseIPv4(bad),
      (e: Error) =>
        e instanceof AddressError &&
        e.message === `"${bad}": not an IPv4 address (expected e.g. 10.244.1.5)`,
      bad,
    );
  }
});

test('net-address: IPv4 parsing agrees with the dotted-quad grammar on generated texts', () => {
  // The grammar, written the slow way: decimal octets 0-255 without leading zeros.
  const grammar = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
  const pieces = [
    '0',
    '1',
    '9',
    '00',
    '01',
    '10',
    '99',
    '255',
    '256',
    '300',
    '0255',
    '1000',
    '',
    'a',
    ' ',
    '.',
    '-1',
  ];
  let seed = 7;
  const pick = (): string =>
    pieces[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % pieces.length]!;
  for (let n = 0; n < 5000; n++) {
    const parts = Array.from({ length: 3 + (n % 3) }, pick);
    const text = parts.join('.');
    const valid = grammar.test(text) && parts.every((p) => Number(p) <= 255);
    assert.equal(isIPv4(text), valid, text);
    if (valid) assert.equal(formatIP(parseIP(text)), text, text);
  }
});

test('net-address: IPv6 is printed per RFC 5952', () => {
  assert.equal(canonical('::'), '::');
  assert.equal(canonical('0:0:0:0:0:0:0:1'), '::1');
  assert.equal(canonical('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonical('2001:DB8::0001'), '2001:db8::1');
  // A single zero group stays a 0; of two equal runs the first is compressed.
  assert.equal(canonical('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
  assert.equal(canonical('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1');
  assert.equal(canonical('2001:db8:0:0:1:0:0:0'), '2001:db8:0:0:1::');
  assert.equal(canonical('fe80:0:0:0:0:0:0:0'), 'fe80::');
  // IPv4-mapped addresses keep the dotted tail, whichever way they were written.
  assert.equal(canonical('::ffff:1.2.3.4'), '::ffff:1.2.3.4');
  assert.equal(canonical('::FFFF:0102:0304'), '::ffff:1.2.3.4');
  assert.equal(parseIP('::ffff:1.2.3.4').family, 6);
});

test('net-address: malformed IPv6 is refused', () => {
  for (const bad of [
    ':::',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '12345::',
    'fe80::1%eth0',
    '::ffff:010.0.0.1',
    '::ffff:1.2.3',
    'g::1',
  ]) {
    assert.equal(isIP(bad), false, bad);
    assert.throws(() => parseIP(bad), /: not an IPv4 or IPv6 address$/, bad);
  }
});

test('net-address: compare orders IPv4 before IPv6, then by value', () => {
  const texts = ['2001:db8::1', '10.0.0.10', '::', '10.0.0.9', '::ffff:0.0.0.1', '9.255.255.255'];
  const sorted = texts.map(parseIP).sort(compareIP).map(formatIP);
  assert.deepEqual(sorted, [
    '9.255.255.255',
    '10.0.0.9',
    '10.0.0.10',
    '::',
    '::ffff:0.0.0.1',
    '2001:db8::1',
  ]);
  assert.equal(compareIP(parseIP('10.0.0.1'), parseIP('10.0.0.1')), 0);
  // Same value, different family: not equal.
  assert.notEqual(compareIP(parseIP('0.0.0.0'), parseIP('::')), 0);
});

test('net-address: arithmetic carries across octet and group boundaries, never out of the family', () => {
  assert.equal(formatIP(addToIP(parseIP('10.0.0.255'), 1)), '10.0.1.0');
  assert.equal(formatIP(addToIP(parseIP('10.0.1.0'), -1)), '10.0.0.255');
  assert.equal(formatIP(addToIP(parseIP('2001:db8::ffff'), 1)), '2001:db8::1:0');
  assert.equal(formatIP(addToIP(parseIP('::'), 2n ** 64n)), '0:0:0:1::');
  assert.throws(() => addToIP(parseIP('255.255.255.255'), 1), RangeError);
  assert.throws(() => addToIP(parseIP('0.0.0.0'), -1), RangeError);
  assert.throws(() => addToIP(parseIP('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), 1), RangeError);
});

test('net-address: bytes in network order', () => {
  assert.deepEqual(ipBytes(parseIP('10.244.1.5')), [10, 244, 1, 5]);
  assert.deepEqual(
    ipBytes(parseIP('2001:db8::1')),
    [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
  );
  assert.equal(formatIP(ipFromBytes([192, 168, 0, 1])), '192.168.0.1');
  assert.equal(formatIP(ipFromBytes(ipBytes(parseIP('fe80::1')))), 'fe80::1');
  assert.throws(() => ipFromBytes([1, 2, 3]), RangeError);
});
