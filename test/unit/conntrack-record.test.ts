import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conntrackDecoder } from '../../src/kernel/conntrack-record.js';
import { conntrackRecord } from '../helpers/conntrack-records.js';

const decode = conntrackDecoder();

test('a NEW record gives the time, protocol, id and both tuples, without counters', () => {
  const record = conntrackRecord({
    kind: 'NEW',
    protocol: 6,
    id: 3206261315,
    addresses: ['10.244.1.5', '10.96.0.20', '10.244.2.7', '10.244.1.5'],
    ports: [40918, 80, 8080, 40918],
    time: 1700000000.306582,
  });
  assert.deepEqual(decode(record, 0), {
    type: 'NEW',
    time: 1700000000.306582,
    protocol: 'tcp',
    id: 3206261315,
    original: { src: '10.244.1.5', dst: '10.96.0.20', sport: 40918, dport: 80 },
    reply: { src: '10.244.2.7', dst: '10.244.1.5', sport: 8080, dport: 40918 },
  });
});

test('a DESTROY record carries each direction’s counters and the lifetime; IPv6 in RFC 5952 form', () => {
  const record = conntrackRecord({
    kind: 'DESTROY',
    protocol: 17,
    id: 77,
    addresses: ['fd00:10:244:1::5', 'fd00:10:96::a', 'fd00:10:244:2::3', 'fd00:10:244:1::5'],
    ports: [5353, 53, 53, 5353],
    time: 1700000031.5,
    times: [1700000000.25, 1700000001.75],
    counters: [1, 60, 1, 120],
  });
  // Several records in one read: the decoder reads the one at its offset.
  const ev = decode(Buffer.concat([Buffer.alloc(136), record]), 136);
  assert.deepEqual(ev, {
    type: 'DESTROY',
    time: 1700000031.5,
    protocol: 'udp',
    id: 77,
    original: {
      src: 'fd00:10:244:1::5',
      dst: 'fd00:10:96::a',
      sport: 5353,
      dport: 53,
      packets: 1,
      bytes: 60,
    },
    reply: {
      src: 'fd00:10:244:2::3',
      dst: 'fd00:10:244:1::5',
      sport: 53,
      dport: 5353,
      packets: 1,
      bytes: 120,
    },
    lifetime: 1.5,
  });
});

test('lost events and the helper’s readiness are records of their own; other protocols are skipped', () => {
  assert.deepEqual(decode(conntrackRecord({ kind: 'LOST' }), 0), { type: 'LOST' });
  assert.deepEqual(decode(conntrackRecord({ kind: 'READY' }), 0), {
    type: 'READY',
  });
  const gre = conntrackRecord({
    kind: 'NEW',
    protocol: 47,
    addresses: ['172.31.0.1', '172.31.0.2', '172.31.0.2', '172.31.0.1'],
  });
  assert.equal(decode(gre, 0), undefined);
  const icmp = decode(
    conntrackRecord({
      kind: 'NEW',
      protocol: 1,
      addresses: ['10.244.1.5', '10.244.2.7', '10.244.2.7', '10.244.1.5'],
    }),
    0,
  );
  assert.equal(icmp?.type === 'NEW' && icmp.protocol, 'icmp');
});

test('a decoder that has read many addresses still names each rightly', () => {
  const reader = conntrackDecoder();
  const of = (a: string) =>
    conntrackRecord({ kind: 'NEW', protocol: 17, addresses: [a, '10.96.0.10', '10.244.2.3', a] });
  for (let i = 0; i < 5000; i++) reader(of(`172.16.${i >> 8}.${i & 255}`), 0);
  const ev = reader(of('172.16.0.1'), 0);
  assert.ok(ev?.type === 'NEW');
  assert.equal(ev.original.src, '172.16.0.1');
  assert.equal(ev.reply.src, '10.244.2.3');
});
