// The log of denied connections, pure halves: the NFLOG pcap stream tcpdump writes is read in
// any chunking (prefix and 5-tuple out), and the ring keeps the first packet of each
// connection, drops repeats within the window and holds at most its capacity.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NflogPcapReader } from '../../src/kernel/nflog.js';
import { DeniedLog, formatDenied, type DeniedConnection } from '../../src/policy/denied-log.js';

function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(4 + value.length, 0);
  head.writeUInt16LE(type, 2);
  const pad = Buffer.alloc((4 - (value.length % 4)) % 4);
  return Buffer.concat([head, value, pad]);
}

/** A TCP SYN 10.244.2.5:40112 -> 10.244.1.3:80, as its IP header and first ports. */
const SYN = Buffer.from([
  0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 244, 2, 5, 10, 244, 1, 3, 0x9c, 0xb0, 0, 80,
]);

function pcap(prefix: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt32LE(239, 20);
  const record = Buffer.concat([
    Buffer.from([2, 0, 0, 18]),
    tlv(10, Buffer.from(`${prefix}\0`)),
    tlv(9, payload),
  ]);
  const recordHeader = Buffer.alloc(16);
  recordHeader.writeUInt32LE(record.length, 8);
  recordHeader.writeUInt32LE(record.length, 12);
  return Buffer.concat([header, recordHeader, record]);
}

test('an NFLOG pcap stream gives the prefix and the 5-tuple, however it is chunked', () => {
  const stream = pcap('PODNET-NP-IN-abc', SYN);
  for (const cut of [1, 7, 24, 30, stream.length - 1]) {
    const reader = new NflogPcapReader();
    const packets = [...reader.feed(stream.subarray(0, cut)), ...reader.feed(stream.subarray(cut))];
    assert.deepEqual(packets, [
      {
        prefix: 'PODNET-NP-IN-abc',
        protocol: 6,
        source: '10.244.2.5',
        destination: '10.244.1.3',
        sourcePort: 40112,
        destinationPort: 80,
      },
    ]);
  }
});

test('a stream of another link type is refused', () => {
  const stream = pcap('x', SYN);
  stream.writeUInt32LE(1, 20);
  assert.throws(() => new NflogPcapReader().feed(stream), /link type 1 is not NFLOG/);
});

const denied = (time: string, sourcePort: number): DeniedConnection => ({
  time,
  direction: 'Ingress',
  policies: ['x/deny-ingress'],
  protocol: 'TCP',
  source: { ip: '10.244.2.5', port: sourcePort, pod: 'y/b' },
  destination: { ip: '10.244.1.3', port: 80, pod: 'x/a' },
});

test('the first packet of each connection is kept, repeats within the window are not', () => {
  const log = new DeniedLog(10, 10_000);
  assert.equal(log.add(denied('2026-01-01T00:00:00.000Z', 40112)), true);
  assert.equal(log.add(denied('2026-01-01T00:00:01.000Z', 40112)), false);
  assert.equal(log.add(denied('2026-01-01T00:00:01.000Z', 40113)), true);
  assert.equal(log.add(denied('2026-01-01T00:00:11.000Z', 40112)), true);
  assert.equal(log.recent().length, 3);
  assert.equal(
    formatDenied(log.recent()[0]!),
    '2026-01-01T00:00:00.000Z TCP 10.244.2.5:40112 (y/b) -> 10.244.1.3:80 (x/a) denied by x/deny-ingress (ingress of x/a)',
  );
});

test('the ring holds at most its capacity, dropping the oldest', () => {
  const log = new DeniedLog(2);
  for (const port of [1, 2, 3]) log.add(denied('2026-01-01T00:00:00.000Z', port));
  assert.deepEqual(
    log.recent().map((c) => c.source.port),
    [2, 3],
  );
});
