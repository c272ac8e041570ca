import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAttributes } from '../../src/bgp/attributes/table.js';
import { decodeMessage } from '../../src/bgp/codec.js';
import { BgpMessageError, type UpdateMessage } from '../../src/bgp/message.js';
import { parseIpv4Key } from '../../src/bgp/prefix-key.js';

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}
function update(attrs: string[]): Buffer {
  const a = hex(attrs.join(''));
  const body = Buffer.concat([
    hex('0000'),
    Buffer.from([a.length >> 8, a.length & 0xff]),
    a,
    hex('18 0a6301'),
  ]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(19 + body.length);
  return Buffer.concat([hex('ff'.repeat(16)), len, Buffer.from([2]), body]);
}

const BASE: Record<number, string> = {
  1: '40 01 01 00',
  2: '40 02 06 02 01 0000fdf2',
  3: '40 03 04 ac1e0002',
};

// What RFC 7606 §7 makes a malformed instance of each attribute cost, written out here rather
// than read from the table, with the optional/transitive bits each must carry (RFC 4271 §5).
const EXPECTED: [
  number,
  string,
  number,
  'treat-as-withdraw' | 'attribute-discard' | 'session-reset',
][] = [
  [1, 'ORIGIN', 0x40, 'treat-as-withdraw'],
  [2, 'AS_PATH', 0x40, 'treat-as-withdraw'],
  [3, 'NEXT_HOP', 0x40, 'treat-as-withdraw'],
  [4, 'MULTI_EXIT_DISC', 0x80, 'treat-as-withdraw'],
  [5, 'LOCAL_PREF', 0x40, 'treat-as-withdraw'],
  [6, 'ATOMIC_AGGREGATE', 0x40, 'attribute-discard'],
  [7, 'AGGREGATOR', 0xc0, 'attribute-discard'],
  [8, 'COMMUNITIES', 0xc0, 'treat-as-withdraw'],
  [9, 'ORIGINATOR_ID', 0x80, 'treat-as-withdraw'],
  [10, 'CLUSTER_LIST', 0x80, 'treat-as-withdraw'],
  [14, 'MP_REACH_NLRI', 0x80, 'session-reset'],
  [15, 'MP_UNREACH_NLRI', 0x80, 'session-reset'],
  [17, 'AS4_PATH', 0xc0, 'attribute-discard'],
  [18, 'AS4_AGGREGATOR', 0xc0, 'attribute-discard'],
];

test('bgp attributes: each attribute with the wrong flags costs what RFC 7606 says', () => {
  for (const [code, name, flags, action] of EXPECTED) {
    // The other optional/transitive combination: wrong for every attribute.
    const wrong = flags === 0x40 ? 0xc0 : flags === 0x80 ? 0xc0 : 0x80;
    const bad = Buffer.from([wrong, code, 4, 0, 0, 0, 1]).toString('hex');
    const attrs = [1, 2, 3].map((c) => (c === code ? bad : BASE[c]!));
    if (code > 3) attrs.push(bad);
    const msg = update(attrs);
    if (action === 'session-reset') {
      assert.throws(
        () => decodeMessage(msg, { fourOctetAs: true }),
        (err: unknown) =>
          err instanceof BgpMessageError &&
          err.code === 3 &&
          err.subcode === 4 &&
          err.data.toString('hex') === bad,
        name,
      );
      continue;
    }
    const u = decodeMessage(msg, { fourOctetAs: true }) as UpdateMessage;
    assert.deepEqual(
      u.errors.map((e) => [e.action, e.subcode]),
      [[action, 4]],
      name,
    );
    const kept = action === 'attribute-discard';
    const prefix = parseIpv4Key('10.99.1.0/24');
    assert.deepEqual([u.nlri, u.withdrawn], kept ? [[prefix], []] : [[], [prefix]], name);
  }
});

test('bgp attributes: the table shows a path for people', () => {
  const text = formatAttributes({
    origin: 2,
    asPath: [
      { type: 2, asns: [65001, 65002] },
      { type: 1, asns: [65003, 65004] },
    ],
    nextHop: '10.0.0.1',
    med: 10,
    communities: [(65000 << 16) | 7],
    unknown: [{ flags: 0xc0, typeCode: 99, value: Buffer.alloc(3) }],
  });
  assert.equal(
    text,
    'ORIGIN INCOMPLETE, AS_PATH 65001 65002 {65003 65004}, NEXT_HOP 10.0.0.1, ' +
      'MULTI_EXIT_DISC 10, COMMUNITIES 65000:7, attribute 99 (3 octets)',
  );
});
