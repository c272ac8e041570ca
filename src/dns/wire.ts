// The few byte-level operations that keep hot names off the full codec: reading a plain
// query's question to build a cache key, and patching a cached response (ID, flags, the
// asker's case, TTLs) into a copy. Everything else goes through dns-packet.

const TYPE_OPT = 41;
export const HEADER = 12;

/** A query simple enough to answer from an encoded-response cache. */
export interface ScannedQuery {
  id: number;
  /** Offset just past the question's name. */
  nameEnd: number;
  qtype: number;
  qclass: number;
  /** The client's EDNS0 UDP size, or undefined without EDNS. */
  ednsSize: number | undefined;
  /** Lower-case question name (wire form, latin1) + type + class + EDNS class. */
  key: string;
}

/**
 * Reads a standard query with one uncompressed, ASCII question and at most an EDNS0 OPT
 * record. Anything else (or anything odd) returns undefined: the full decoder handles it.
 */
export function scanQuery(msg: Buffer, transport: 'udp' | 'tcp'): ScannedQuery | undefined {
  const len = msg.length;
  if (len < HEADER + 5) return undefined;
  // QR=0, opcode 0, and the four counts 1/0/0/(0|1).
  if ((msg[2]! & 0xf8) !== 0) return undefined;
  if (msg.readUInt16BE(4) !== 1 || msg.readUInt16BE(6) !== 0 || msg.readUInt16BE(8) !== 0) {
    return undefined;
  }
  const arcount = msg.readUInt16BE(10);
  if (arcount > 1) return undefined;
  let off = HEADER;
  for (;;) {
    const l = msg[off]!;
    if (l === 0) break;
    if (l > 63) return undefined; // compression or reserved label types
    for (let i = off + 1; i <= off + l; i++) if (msg[i]! >= 0x80) return undefined;
    off += l + 1;
    if (off >= len) return undefined;
  }
  const nameEnd = off + 1;
  if (nameEnd + 4 > len || nameEnd - HEADER > 255) return undefined;
  const qtype = msg.readUInt16BE(nameEnd);
  const qclass = msg.readUInt16BE(nameEnd + 2);
  off = nameEnd + 4;
  let ednsSize: number | undefined;
  if (arcount === 1) {
    // OPT: root name, type 41, class = UDP size, TTL = ext-rcode/version/flags, rdata.
    if (off + 11 > len || msg[off] !== 0 || msg.readUInt16BE(off + 1) !== TYPE_OPT)
      return undefined;
    if (msg[off + 6] !== 0) return undefined; // EDNS version other than 0: BADVERS, slow path
    if (msg[off + 7]! & 0x80) return undefined; // DO bit: answer via the full path
    ednsSize = msg.readUInt16BE(off + 3);
    off += 11 + msg.readUInt16BE(off + 9);
  }
  if (off !== len) return undefined;
  const limit = transport === 'tcp' ? 'tcp' : udpLimit(ednsSize);
  const key = `${msg.toString('latin1', HEADER, nameEnd).toLowerCase()}|${qtype}|${qclass}|${ednsSize === undefined ? '-' : 'e'}${limit}`;
  return { id: msg.readUInt16BE(0), nameEnd, qtype, qclass, ednsSize, key };
}

/** The largest UDP response the client accepts (RFC 6891; 512 without EDNS). */
export function udpLimit(ednsSize: number | undefined): number {
  if (ednsSize === undefined) return 512;
  return Math.min(Math.max(ednsSize, 512), 4096);
}

/** An encoded response and where to patch it for the next asker. */
export interface EncodedResponse {
  buf: Buffer;
  /** Offsets of owner names equal to the question name (the question's own is at 12). */
  nameOffsets: number[];
  /** Offsets of TTL fields (forwarded answers age in the cache). */
  ttlOffsets: number[];
}

/**
 * Walks a response to find the owner names equal to its question name and every TTL field.
 * Returns undefined when the response is not well formed.
 */
export function indexResponse(buf: Buffer): EncodedResponse | undefined {
  try {
    if (buf.readUInt16BE(4) !== 1) return undefined;
    const qEnd = skipName(buf, HEADER);
    const qname = buf.toString('latin1', HEADER, qEnd).toLowerCase();
    let off = qEnd + 4;
    const rrs = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
    const nameOffsets = [HEADER];
    const ttlOffsets: number[] = [];
    for (let i = 0; i < rrs; i++) {
      const nameStart = off;
      off = skipName(buf, off);
      if (
        off - nameStart === qEnd - HEADER &&
        buf.toString('latin1', nameStart, off).toLowerCase() === qname
      ) {
        nameOffsets.push(nameStart);
      }
      const type = buf.readUInt16BE(off);
      if (type !== TYPE_OPT) ttlOffsets.push(off + 4);
      off += 10 + buf.readUInt16BE(off + 8);
    }
    if (off !== buf.length) return undefined;
    return { buf, nameOffsets, ttlOffsets };
  } catch {
    return undefined;
  }
}

function skipName(buf: Buffer, off: number): number {
  for (;;) {
    const l = buf[off];
    if (l === undefined) throw new RangeError('name runs past the end');
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) return off + 2;
    if (l > 63) throw new RangeError('bad label type');
    off += l + 1;
  }
}

/**
 * A copy of a cached response for this query: its ID, its RD and CD bits, its question's
 * case at every owner name that repeats the question, and TTLs lowered by `ageSeconds`.
 */
export function patchResponse(
  cached: EncodedResponse,
  query: Buffer,
  nameEnd: number,
  ageSeconds = 0,
): Buffer {
  const out = Buffer.allocUnsafe(cached.buf.length);
  out.set(cached.buf);
  out[0] = query[0]!;
  out[1] = query[1]!;
  out[2] = (out[2]! & 0xfe) | (query[2]! & 0x01); // RD
  out[3] = (out[3]! & 0xef) | (query[3]! & 0x10); // CD
  // Byte loops: names are short, and Buffer#copy's argument checks cost more than the copy.
  const offsets = cached.nameOffsets;
  for (let k = 0; k < offsets.length; k++) {
    const at = offsets[k]! - HEADER;
    for (let i = HEADER; i < nameEnd; i++) out[at + i] = query[i]!;
  }
  if (ageSeconds > 0) {
    for (const at of cached.ttlOffsets) {
      out.writeUInt32BE(Math.max(0, out.readUInt32BE(at) - ageSeconds), at);
    }
  }
  return out;
}

/** The smallest TTL in a response (its cache lifetime), or undefined if it has no records. */
export function minTtl(r: EncodedResponse): number | undefined {
  let min: number | undefined;
  for (const at of r.ttlOffsets) {
    const ttl = r.buf.readUInt32BE(at);
    if (min === undefined || ttl < min) min = ttl;
  }
  return min;
}

/** The question name's raw bytes (uncompressed labels up to the root), or throws. */
export function questionName(msg: Buffer): Buffer {
  let off = HEADER;
  for (;;) {
    const l = msg[off];
    if (l === undefined) throw new RangeError('question name runs past the end');
    if (l === 0) break;
    if (l > 63) throw new RangeError('compressed or extended label in the question');
    off += l + 1;
  }
  if (off + 1 - HEADER > 255) throw new RangeError('question name longer than 255 bytes');
  return msg.subarray(HEADER, off + 1);
}
