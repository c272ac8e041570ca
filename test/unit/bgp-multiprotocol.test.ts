import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage } from '../../src/bgp/codec.js';
import { negotiate, type FsmConfig } from '../../src/bgp/fsm.js';
import {
  BgpMessageError,
  type CodecContext,
  type OpenMessage,
  type PathAttributes,
  type UpdateMessage,
} from '../../src/bgp/message.js';
import type { Ipv6Prefix } from '../../src/bgp/nlri.js';
import { encodeOpen } from '../../src/bgp/open.js';
import {
  encodeIpv6Announcements,
  encodeIpv6EndOfRib,
  encodeIpv6Withdrawals,
  encodeUpdate,
} from '../../src/bgp/update.js';
import { ipv6KeyPrefix, ipv6PrefixKey, parseIpv6Key } from '../../src/bgp/prefix-key.js';

const MARKER = 'ff'.repeat(16);
const V6 = { fourOctetAs: true, ipv6Unicast: true };
const V4_ONLY = { fourOctetAs: true };

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}
function update(body: string): Buffer {
  const b = hex(body);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(19 + b.length);
  return Buffer.concat([hex(MARKER), len, Buffer.from([2]), b]);
}
function attrs(...parts: string[]): string {
  const b = parts.join('').replace(/\s+/g, '');
  return (b.length / 2).toString(16).padStart(4, '0') + b;
}
function decoded(bytes: Buffer, ctx: CodecContext = V6): UpdateMessage {
  return decodeMessage(bytes, ctx) as UpdateMessage;
}
/** Address octets as the decoder gives them: a plain Uint8Array, not a Buffer. */
function octets(text: string): Uint8Array {
  return Uint8Array.from(hex(text));
}
function prefix(address: string, length: number): Ipv6Prefix {
  return { address: octets(address.padEnd(32, '0')), length };
}

const ORIGIN = '40 01 01 00';
const AS_PATH = '40 02 06 02 01 0000fdf2';
const GLOBAL = '20010db8000000000000000000000001';
const LINK_LOCAL = 'fe800000000000000000000000000001';
const ATTRS: PathAttributes = {
  origin: 0,
  asPath: [{ type: 2, asns: [65010] }],
  unknown: [],
};

test('bgp multiprotocol: IPv6 MP_REACH_NLRI from hand-built bytes, both next hops', () => {
  // AFI 2, SAFI 1, next hop of 32 octets, reserved, then 2001:db8::/32, 2001:db8:1::/48, ::/0.
  const mpReach = `80 0e 32 0002 01 20 ${GLOBAL} ${LINK_LOCAL} 00 20 20010db8 30 20010db80001 00`;
  const u = decoded(update('0000' + attrs(mpReach, ORIGIN, AS_PATH)));
  assert.deepEqual(u.errors, []);
  assert.deepEqual(u.nlri, []);
  assert.deepEqual(u.ipv6, {
    withdrawn: [],
    nlri: [prefix('20010db8', 32), prefix('20010db80001', 48), prefix('', 0)],
    nextHop: { global: octets(GLOBAL), linkLocal: octets(LINK_LOCAL) },
    endOfRib: false,
  });
  assert.equal(u.attributes?.origin, 0);
});

test('bgp multiprotocol: IPv6 announcements and withdrawals round-trip', () => {
  const content = {
    attributes: ATTRS,
    ipv6: {
      nlri: [prefix('20010db8', 32), prefix('20010db8ffff0000000000000000abcd', 128)],
      nextHop: { global: octets(GLOBAL) },
      withdrawn: [prefix('20010db80002', 47)],
    },
  };
  const u = decoded(encodeUpdate(content, V6));
  assert.deepEqual(u.ipv6, { ...content.ipv6, endOfRib: false });
  assert.deepEqual(u.attributes, ATTRS);
  assert.equal(u.endOfRib, false);
  // The same message is IPv4-only on a session that did not negotiate IPv6: nothing of it read.
  const ignored = decoded(encodeUpdate(content, V6), V4_ONLY);
  assert.equal(ignored.ipv6, undefined);
  assert.deepEqual([ignored.nlri, ignored.withdrawn, ignored.errors], [[], [], []]);
});

test('bgp multiprotocol: bits past the prefix length are cleared', () => {
  const mpReach = `80 0e 1b 0002 01 10 ${GLOBAL} 00 21 20010db8ff`;
  const u = decoded(update('0000' + attrs(mpReach, ORIGIN, AS_PATH)));
  assert.deepEqual(u.ipv6?.nlri, [prefix('20010db880', 33)]);
});

test('bgp multiprotocol: an empty IPv6 MP_UNREACH_NLRI is the IPv6 End-of-RIB', () => {
  const bytes = encodeUpdate({ ipv6: { withdrawn: [] } }, V6);
  assert.equal(bytes.subarray(19).toString('hex'), '0000' + '0006' + '800f03000201');
  const u = decoded(bytes);
  assert.equal(u.ipv6?.endOfRib, true);
  assert.equal(u.endOfRib, false, 'not the IPv4 End-of-RIB');
  assert.equal(u.attributes, undefined);
});

test('bgp multiprotocol: malformed IPv6 MP attributes reset the session with the attribute', () => {
  const cases: [string, string][] = [
    ['IPv4-sized next hop', `80 0e 0b 0002 01 04 0a000001 00 08 20`],
    ['prefix longer than 128 bits', `80 0e 17 0002 01 10 ${GLOBAL} 00 81 20`],
    ['prefix past the attribute', `80 0f 06 0002 01 40 2001`],
  ];
  for (const [name, attr] of cases) {
    assert.throws(
      () => decoded(update('0000' + attrs(attr, ORIGIN, AS_PATH))),
      (err: unknown) => {
        assert.ok(err instanceof BgpMessageError, name);
        assert.deepEqual([err.code, err.subcode], [3, 9], name);
        assert.equal(err.data.toString('hex'), attr.replace(/\s+/g, ''), name);
        return true;
      },
    );
  }
});

test('bgp multiprotocol: a bad ORIGIN withdraws the IPv6 NLRI too (treat-as-withdraw)', () => {
  const mpReach = `80 0e 1a 0002 01 10 ${GLOBAL} 00 20 20010db8`;
  const u = decoded(update('0000' + attrs(mpReach, '40 01 01 07', AS_PATH)));
  assert.equal(u.errors[0]?.action, 'treat-as-withdraw');
  assert.deepEqual(u.ipv6?.nlri, []);
  assert.deepEqual(u.ipv6?.withdrawn, [prefix('20010db8', 32)]);
  assert.equal(u.ipv6?.nextHop, undefined);
  // Missing AS_PATH with only IPv6 NLRI is the same (RFC 7606 §3(d)).
  const missing = decoded(update('0000' + attrs(mpReach, ORIGIN)));
  assert.deepEqual(missing.ipv6?.withdrawn, [prefix('20010db8', 32)]);
});

test('bgp multiprotocol: IPv6 unicast is offered when asked, and negotiated when both offer', () => {
  const plain = decodeMessage(
    encodeOpen({ asNumber: 64512, holdTime: 90, bgpId: '10.0.0.1' }),
    V6,
  ) as OpenMessage;
  assert.deepEqual(plain.multiprotocol, [{ afi: 1, safi: 1 }]);
  const dual = decodeMessage(
    encodeOpen({ asNumber: 64512, holdTime: 90, bgpId: '10.0.0.1', ipv6Unicast: true }),
    V6,
  ) as OpenMessage;
  assert.deepEqual(dual.multiprotocol, [
    { afi: 1, safi: 1 },
    { afi: 2, safi: 1 },
  ]);
  const config: FsmConfig = {
    localAs: 64513,
    peerAs: 64512,
    bgpId: '10.0.0.2',
    holdTime: 90,
    connectRetryTime: 5,
    idleHoldTime: 0,
    passive: false,
  };
  const agreed = (c: FsmConfig, open: OpenMessage) => {
    const n = negotiate(c, open);
    return 'holdTime' in n ? n.ipv6Unicast === true : n;
  };
  assert.equal(agreed({ ...config, ipv6Unicast: true }, dual), true);
  assert.equal(agreed(config, dual), false, 'we did not offer it');
  assert.equal(agreed({ ...config, ipv6Unicast: true }, plain), false, 'the peer did not');
});

test('bgp multiprotocol: many IPv6 prefixes pack into UPDATEs that fit, and read back whole', () => {
  const prefixes = Array.from({ length: 600 }, (_, i) =>
    prefix(`20010db8${i.toString(16).padStart(4, '0')}`, 48),
  );
  const messages = encodeIpv6Announcements(ATTRS, prefixes, { global: octets(GLOBAL) }, V6);
  assert.ok(messages.length > 1);
  const read = messages.map((m) => {
    assert.ok(m.length <= 4096, `${m.length} octets`);
    return decoded(m);
  });
  assert.deepEqual(
    read.flatMap((u) => u.ipv6!.nlri),
    prefixes,
  );
  // NEXT_HOP is IPv4's: the IPv6 next hop travels in MP_REACH_NLRI only.
  for (const u of read) {
    assert.equal(u.attributes?.nextHop, undefined);
    assert.deepEqual(u.ipv6!.nextHop, { global: octets(GLOBAL) });
  }
  const withdrawals = encodeIpv6Withdrawals(prefixes).map((m) => decoded(m));
  assert.deepEqual(
    withdrawals.flatMap((u) => u.ipv6!.withdrawn),
    prefixes,
  );
  const eor = decoded(encodeIpv6EndOfRib());
  assert.equal(eor.ipv6?.endOfRib, true);
  // A peer that did not negotiate IPv6 reads none of it.
  assert.equal(decoded(messages[0]!, V4_ONLY).ipv6, undefined);
});

test('bgp multiprotocol: IPv6 prefix keys are canonical text and round-trip', () => {
  const p = prefix('20010db800010000000000000000ffff', 64);
  const key = ipv6PrefixKey(p);
  assert.equal(key, '2001:db8:1::/64');
  assert.deepEqual(ipv6KeyPrefix(key), prefix('20010db80001', 64));
  assert.equal(parseIpv6Key('2001:DB8:1:0::5/64'), key);
  assert.throws(() => parseIpv6Key('10.0.0.0/8'), /not an IPv6 prefix/);
});
