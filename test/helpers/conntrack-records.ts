// Records as podnet-conntrack-events writes them, built here byte by byte from the layout at
// the top of its C source, for tests of the decoder.
import { ipBytes, parseIP } from '../../src/net/index.js';
import { RECORD_BYTES } from '../../src/kernel/conntrack-record.js';

export interface RecordFields {
  kind: 'NEW' | 'DESTROY' | 'LOST' | 'READY';
  protocol?: number;
  id?: number;
  /** Original source, original destination, reply source, reply destination. */
  addresses?: [string, string, string, string];
  /** In the same order as the addresses. */
  ports?: [number, number, number, number];
  time?: number;
  /** The kernel's start and stop timestamps, in seconds. */
  times?: [number, number];
  /** Original packets and bytes, reply packets and bytes. */
  counters?: [number, number, number, number];
}

const KINDS = { NEW: 1, DESTROY: 2, LOST: 3, READY: 4 };

export function conntrackRecord(f: RecordFields): Buffer {
  const buf = Buffer.alloc(RECORD_BYTES);
  buf[0] = KINDS[f.kind];
  const addresses = f.addresses?.map(parseIP);
  buf[1] = addresses?.[0]?.family ?? 0;
  buf[2] = f.protocol ?? 0;
  buf[3] = (f.counters ? 1 : 0) | (f.times ? 2 : 0);
  buf.writeUInt32LE(f.id ?? 0, 4);
  addresses?.forEach((ip, i) => Buffer.from(ipBytes(ip)).copy(buf, 8 + 16 * i));
  f.ports?.forEach((port, i) => buf.writeUInt16LE(port, 72 + 2 * i));
  buf.writeDoubleLE(f.time ?? 0, 80);
  f.times?.forEach((t, i) => buf.writeDoubleLE(t, 88 + 8 * i));
  f.counters?.forEach((n, i) => buf.writeDoubleLE(n, 104 + 8 * i));
  return buf;
}
