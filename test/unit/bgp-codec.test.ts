import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMessage,
  encodeKeepalive,
  encodeNotification,
  encodeRouteRefresh,
} from '../../src/bgp/codec.js';
import { frameMessages } from '../../src/bgp/framing.js';
import { encodeOpen } from '../../src/bgp/open.js';
import {
  encodeAnnouncements,
  encodeEndOfRib,
  encodeUpdate,
  encodeWithdrawals,
} from '../../src/bgp/update.js';
import {
  BgpMessageError,
  type Message,
  type OpenMessage,
  type UpdateMessage,
} from '../../src/bgp/message.js';
import { parseIpv4Key as key, type Ipv4PrefixKey } from '../../src/bgp/prefix-key.js';

const MARKER = 'ff'.repeat(16);
const AS4 = { fourOctetAs: true };
const AS2 = { fourOctetAs: false };

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** A message from its type and body, hex written by hand from RFC 4271 §4. */
function message(type: number, body: string): Buffer {
  return framed(type, hex(body));
}

function framed(type: number, b: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(19 + b.length);
  return Buffer.concat([hex(MARKER), len, Buffer.from([type]), b]);
}

function update(body: string, ctx = AS4): UpdateMessage {
  const m = decodeMessage(message(2, body), ctx);
  assert.equal(m.type, 'update');
  return m as UpdateMessage;
}

function expectError(fn: () => unknown, code: number, subcode: number, data?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BgpMessageError, `expected BgpMessageError, got ${String(err)}`);
    assert.deepEqual([err.code, err.subcode], [code, subcode], err.message);
    if (data !== undefined) assert.equal(err.data.toString('hex'), data.replace(/\s+/g, ''));
    return true;
  });
}

test('bgp codec: KEEPALIVE is a bare 19-octet header', () => {
  const bytes = hex(`${MARKER} 0013 04`);
  assert.deepEqual(encodeKeepalive(), bytes);
  assert.deepEqual(decodeMessage(bytes, AS4), { type: 'keepalive' });
});

// OPEN: version 4, AS 64512, hold 90, id 10.0.0.1, one capabilities parameter holding
// multiprotocol IPv4/unicast, route refresh, 4-octet AS 64512, graceful restart 120 s.
const OPEN_BODY =
  '04 fc00 005a 0a000001 18 ' +
  '02 16  01 04 0001 00 01  02 00  41 04 0000fc00  40 06 0078 0001 01 80';

test('bgp codec: OPEN with capabilities decodes from hand-built bytes', () => {
  const m = decodeMessage(message(1, OPEN_BODY), AS4) as OpenMessage;
  assert.equal(m.type, 'open');
  assert.equal(m.asNumber, 64512);
  assert.equal(m.holdTime, 90);
  assert.equal(m.bgpId, '10.0.0.1');
  assert.deepEqual(m.multiprotocol, [{ afi: 1, safi: 1 }]);
  assert.equal(m.routeRefresh, true);
  assert.equal(m.fourOctetAs, true);
  assert.deepEqual(m.gracefulRestart, {
    restarting: false,
    restartTime: 120,
    families: [{ afi: 1, safi: 1, forwardingPreserved: true }],
  });
});

test('bgp codec: OPEN encodes to the same bytes', () => {
  const bytes = encodeOpen({
    asNumber: 64512,
    holdTime: 90,
    bgpId: '10.0.0.1',
    gracefulRestart: { restarting: false, restartTime: 120, forwardingPreserved: true },
  });
  assert.equal(bytes.toString('hex'), message(1, OPEN_BODY).toString('hex'));
});

test('bgp codec: a 4-octet AS goes out as AS_TRANS with the real AS in the capability', () => {
  const bytes = encodeOpen({ asNumber: 4200000000, holdTime: 9, bgpId: '1.2.3.4' });
  assert.equal(bytes.readUInt16BE(20), 23456);
  const m = decodeMessage(bytes, AS4) as OpenMessage;
  assert.equal(m.asNumber, 4200000000);
  assert.equal(m.gracefulRestart, undefined);
  // An old speaker without the capability: the 2-octet field is the AS.
  const old = decodeMessage(message(1, '04 fde8 00b4 01020304 00'), AS4) as OpenMessage;
  assert.equal(old.asNumber, 65000);
  assert.equal(old.fourOctetAs, false);
});

test('bgp codec: OPEN errors carry the NOTIFICATION RFC 4271 §6.2 asks for', () => {
  expectError(() => decodeMessage(message(1, '03 fc00 005a 0a000001 00'), AS4), 2, 1, '0004');
  expectError(() => decodeMessage(message(1, '04 fc00 0002 0a000001 00'), AS4), 2, 6);
  expectError(() => decodeMessage(message(1, '04 fc00 005a 00000000 00'), AS4), 2, 3);
  expectError(() => decodeMessage(message(1, '04 fc00 005a 0a000001 03 09 01 00'), AS4), 2, 4);
  expectError(() => decodeMessage(message(1, '04 fc00 005a 0a000001 05 02 03 01 04'), AS4), 2, 0);
});

test('bgp codec: header errors (marker, length, type)', () => {
  const ka = hex(`${MARKER} 0013 04`);
  const badMarker = Buffer.from(ka);
  badMarker[3] = 0;
  expectError(() => frameMessages(badMarker), 1, 1);
  expectError(() => frameMessages(hex(`${MARKER} 0012 04`)), 1, 2, '0012');
  expectError(() => frameMessages(hex(`${MARKER} 0014 04 00`)), 1, 2, '0014');
  expectError(() => frameMessages(hex(`${MARKER} 1001 02`)), 1, 2, '1001');
  expectError(() => frameMessages(hex(`${MARKER} 0013 09`)), 1, 3, '09');
  // A truncated message waits for more bytes rather than failing.
  const { messages, rest } = frameMessages(Buffer.concat([ka, ka.subarray(0, 10)]));
  assert.equal(messages.length, 1);
  assert.equal(rest.length, 10);
});

// Attributes of a typical UPDATE, 4-octet AS session.
const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fde8'; // SEQUENCE [65000]
const NEXT_HOP = '40 03 04 0a000001';
const NLRI = '18 0af401 10 0af5'; // 10.244.1.0/24, 10.245.0.0/16

function attrs(...parts: string[]): string {
  const b = hex(parts.join(''));
  return b.length.toString(16).padStart(4, '0') + b.toString('hex');
}

test('bgp codec: UPDATE with every attribute podnet knows', () => {
  const body =
    '0000' +
    attrs(
      ORIGIN,
      AS_PATH,
      NEXT_HOP,
      '80 04 04 00000064', // MED 100
      '40 05 04 000000c8', // LOCAL_PREF 200
      'c0 08 08 fde80001 fde80002', // COMMUNITIES 65000:1 65000:2
      '80 09 04 0a000002', // ORIGINATOR_ID
      '80 0a 08 0a000003 0a000004', // CLUSTER_LIST
      'c0 63 02 abcd', // unknown optional transitive
      '80 64 01 01', // unknown optional non-transitive: dropped
    ) +
    NLRI;
  const u = update(body);
  assert.deepEqual(u.nlri, [key('10.244.1.0/24'), key('10.245.0.0/16')]);
  assert.deepEqual(u.withdrawn, []);
  assert.deepEqual(u.errors, []);
  assert.deepEqual(u.attributes, {
    origin: 0,
    asPath: [{ type: 2, asns: [65000] }],
    nextHop: '10.0.0.1',
    med: 100,
    localPref: 200,
    communities: [0xfde80001, 0xfde80002],
    originatorId: '10.0.0.2',
    clusterList: ['10.0.0.3', '10.0.0.4'],
    unknown: [{ flags: 0xc0, typeCode: 0x63, value: hex('abcd') }],
  });
  // Re-encoded: same attributes, the unknown one now marked partial (0xe0).
  const again = encodeUpdate({ attributes: u.attributes!, nlri: u.nlri }, AS4);
  assert.ok(again.toString('hex').includes('e06302abcd'));
  const back = decodeMessage(again, AS4) as UpdateMessage;
  assert.deepEqual(back.nlri, u.nlri);
  assert.deepEqual(back.attributes!.unknown, [{ flags: 0xe0, typeCode: 0x63, value: hex('abcd') }]);
  assert.equal(back.attributes!.med, 100);
});

test('bgp codec: withdrawals, MP_REACH/MP_UNREACH for IPv4 unicast', () => {
  const w = update('0004 18 0af401 0000');
  assert.deepEqual(w.withdrawn, [key('10.244.1.0/24')]);
  assert.equal(w.attributes, undefined);
  assert.equal(w.endOfRib, false);

  const mp = update(
    '0000' + attrs('80 0e 0d 0001 01 04 0a000009 00 18 0af402', ORIGIN, AS_PATH) + '',
  );
  assert.deepEqual(mp.nlri, [key('10.244.2.0/24')]);
  assert.equal(mp.mpNextHop, '10.0.0.9');
  assert.deepEqual(mp.errors, []);

  const un = update('0000' + attrs('80 0f 07 0001 01 18 0af403'));
  assert.deepEqual(un.withdrawn, [key('10.244.3.0/24')]);

  // IPv6 unicast MP_REACH is ignored, not an error.
  const v6 = update('0000' + attrs('80 0e 0d 0002 01 04 0a000009 00 18 0af402', ORIGIN, AS_PATH));
  assert.deepEqual(v6.nlri, []);
  assert.deepEqual(v6.errors, []);
});

test('bgp codec: End-of-RIB in both forms', () => {
  const eor = encodeEndOfRib();
  assert.equal(eor.toString('hex'), `${MARKER}001702${'00000000'}`);
  assert.equal((decodeMessage(eor, AS4) as UpdateMessage).endOfRib, true);
  assert.equal(update('0000' + attrs('80 0f 03 0001 01')).endOfRib, true);
  assert.equal(update('0000' + attrs('80 0f 03 0002 01')).endOfRib, false);
});

test('bgp codec: 2-octet session, AS_TRANS in AS_PATH and the real path in AS4_PATH', () => {
  // AS_PATH [23456, 65000], AS4_PATH [4200000000, 65000]
  const u = update(
    '0000' +
      attrs(ORIGIN, '40 02 06 02 02 5ba0 fde8', NEXT_HOP, 'c0 11 0a 02 02 fa56ea00 0000fde8') +
      NLRI,
    AS2,
  );
  assert.deepEqual(u.attributes!.asPath, [{ type: 2, asns: [4200000000, 65000] }]);
  // And out again to a 2-octet peer.
  const out = encodeUpdate({ attributes: u.attributes!, nlri: u.nlri }, AS2);
  const back = decodeMessage(out, AS2) as UpdateMessage;
  assert.deepEqual(back.attributes!.asPath, [{ type: 2, asns: [4200000000, 65000] }]);
  assert.ok(out.toString('hex').includes('4002060202 5ba0fde8'.replace(/ /g, '')));
});

test('bgp codec: UPDATE errors that reset the session (RFC 7606)', () => {
  // Withdrawn length past the end → Malformed Attribute List.
  expectError(() => update('0010 18 0af401 0000'), 3, 1);
  // Total attribute length past the end.
  expectError(() => update('0000 0020 40010100'), 3, 1);
  // A prefix longer than 32 bits in NLRI → Invalid Network Field.
  expectError(() => update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP) + '21 0af40100 00'), 3, 10);
  // A prefix running past the end of NLRI.
  expectError(() => update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP) + '18 0af4'), 3, 10);
  // Unrecognized well-known attribute: 3/2 with the attribute as data.
  expectError(
    () => update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP, '40 63 02 abcd') + NLRI),
    3,
    2,
    '4063 02abcd',
  );
  // Repeated MP_REACH_NLRI.
  const mp = '80 0e 0d 0001 01 04 0a000009 00 18 0af402';
  expectError(() => update('0000' + attrs(mp, mp, ORIGIN, AS_PATH)), 3, 1);
  // Malformed MP_REACH_NLRI (prefix runs past it).
  expectError(() => update('0000' + attrs('80 0e 0b 0001 01 04 0a000009 00 18 0a')), 3, 9);
});

function withdrawnAs(u: UpdateMessage, subcode: number): void {
  assert.deepEqual(u.nlri, []);
  assert.deepEqual(u.withdrawn, [key('10.244.1.0/24'), key('10.245.0.0/16')]);
  assert.equal(u.errors[0]?.action, 'treat-as-withdraw');
  assert.equal(u.errors[0]?.subcode, subcode, u.errors[0]?.reason);
}

test('bgp codec: malformed attributes are treat-as-withdraw (RFC 7606 §7)', () => {
  withdrawnAs(update('0000' + attrs('40 01 01 05', AS_PATH, NEXT_HOP) + NLRI), 6); // ORIGIN 5
  withdrawnAs(update('0000' + attrs('40 01 02 0000', AS_PATH, NEXT_HOP) + NLRI), 5);
  withdrawnAs(update('0000' + attrs('80 01 01 00', AS_PATH, NEXT_HOP) + NLRI), 4); // flags
  withdrawnAs(update('0000' + attrs(ORIGIN, '40 02 02 02 00', NEXT_HOP) + NLRI), 11); // count 0
  withdrawnAs(update('0000' + attrs(ORIGIN, '40 02 06 02 02 0000fde8', NEXT_HOP) + NLRI), 11);
  withdrawnAs(update('0000' + attrs(ORIGIN, AS_PATH, '40 03 04 e0000001') + NLRI), 8);
  withdrawnAs(update('0000' + attrs(ORIGIN, AS_PATH) + NLRI), 3); // NEXT_HOP missing
  withdrawnAs(update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP, 'c0 08 03 fde800') + NLRI), 9);
  withdrawnAs(update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP, '80 0a 02 0a00') + NLRI), 9);
  withdrawnAs(update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP, '80 09 03 0a0000') + NLRI), 5);
  withdrawnAs(update('0000 0000' + NLRI), 3); // no attributes at all
  // An attribute whose length runs past the attributes field (RFC 7606 §4).
  withdrawnAs(update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP, 'c0 08 08 fde80001') + NLRI), 5);
  // Too few octets left for an attribute header.
  withdrawnAs(update('0000' + attrs(ORIGIN, AS_PATH, NEXT_HOP, 'c0 08') + NLRI), 5);
});

test('bgp codec: attribute-discard keeps the route', () => {
  // ATOMIC_AGGREGATE with a length, and a repeated ORIGIN: both dropped, routes kept.
  const u = update('0000' + attrs(ORIGIN, '40 01 01 02', AS_PATH, NEXT_HOP, '40 06 01 00') + NLRI);
  assert.deepEqual(u.nlri, [key('10.244.1.0/24'), key('10.245.0.0/16')]);
  assert.deepEqual(
    u.errors.map((e) => e.action),
    ['attribute-discard', 'attribute-discard'],
  );
  assert.equal(u.attributes!.origin, 0);
  assert.equal(u.attributes!.atomicAggregate, undefined);
});

test('bgp codec: NOTIFICATION and ROUTE-REFRESH', () => {
  const n = hex(`${MARKER} 0017 03 0302 4063`);
  assert.deepEqual(encodeNotification({ code: 3, subcode: 2, data: hex('4063') }), n);
  const m = decodeMessage(n, AS4) as Message & { type: 'notification' };
  assert.deepEqual([m.code, m.subcode, m.data.toString('hex')], [3, 2, '4063']);
  const rr = hex(`${MARKER} 0017 05 0001 00 01`);
  assert.deepEqual(encodeRouteRefresh({ afi: 1, safi: 1 }), rr);
  assert.deepEqual(decodeMessage(rr, AS4), { type: 'route-refresh', afi: 1, safi: 1 });
});

test('bgp codec: many prefixes are packed into UPDATEs of at most 4096 octets', () => {
  const prefixes = Array.from({ length: 3000 }, (_, i) => key(`10.${i >> 8}.${i & 255}.0/24`));
  const attributes = { origin: 0 as const, asPath: [], nextHop: '10.0.0.1', unknown: [] };
  const msgs = encodeAnnouncements(attributes, prefixes, AS4);
  assert.ok(msgs.length > 1);
  const got: Ipv4PrefixKey[] = [];
  for (const b of msgs) {
    assert.ok(b.length <= 4096);
    got.push(...(decodeMessage(b, AS4) as UpdateMessage).nlri);
  }
  assert.deepEqual(got, prefixes);
  const wd = encodeWithdrawals(prefixes).flatMap(
    (b) => (decodeMessage(b, AS4) as UpdateMessage).withdrawn,
  );
  assert.deepEqual(wd, prefixes);
});
