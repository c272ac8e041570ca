// AS_PATH segments (RFC 4271 §4.3) in 2- or 4-octet AS numbers, and the RFC 6793 rebuilding of
// a 4-octet path from what a 2-octet speaker sent.
import { AS_TRANS, AsSegmentType, type AsPathSegment } from '../message.js';

/** Decodes AS_PATH/AS4_PATH segments; undefined when malformed (RFC 7606 §7.2). */
export function decodeAsPath(value: Buffer, asnSize: 2 | 4): AsPathSegment[] | undefined {
  const segments: AsPathSegment[] = [];
  let pos = 0;
  while (pos < value.length) {
    if (pos + 2 > value.length) return undefined;
    const type = value[pos]!;
    const count = value[pos + 1]!;
    if (type < AsSegmentType.SET || type > AsSegmentType.CONFED_SET || count === 0) {
      return undefined;
    }
    if (pos + 2 + count * asnSize > value.length) return undefined;
    const asns: number[] = [];
    for (let i = 0; i < count; i++) {
      const at = pos + 2 + i * asnSize;
      asns.push(asnSize === 4 ? value.readUInt32BE(at) : value.readUInt16BE(at));
    }
    segments.push({ type, asns });
    pos += 2 + count * asnSize;
  }
  return segments;
}

export function encodeAsPath(segments: AsPathSegment[], asnSize: 2 | 4): Buffer {
  const parts: Buffer[] = [];
  for (const s of segments) {
    // A segment holds at most 255 ASes; longer runs are split.
    for (let i = 0; i < s.asns.length; i += 255) {
      const chunk = s.asns.slice(i, i + 255);
      const seg = Buffer.alloc(2 + chunk.length * asnSize);
      seg[0] = s.type;
      seg[1] = chunk.length;
      chunk.forEach((asn, j) => {
        if (asnSize === 4) seg.writeUInt32BE(asn, 2 + 4 * j);
        else seg.writeUInt16BE(asn > 0xffff ? AS_TRANS : asn, 2 + 2 * j);
      });
      parts.push(seg);
    }
  }
  return Buffer.concat(parts);
}

/** Number of ASes a path counts as for best-path selection (a SET counts once, confeds not). */
export function asPathLength(segments: AsPathSegment[]): number {
  let n = 0;
  for (const s of segments) {
    if (s.type === AsSegmentType.SEQUENCE) n += s.asns.length;
    else if (s.type === AsSegmentType.SET) n += 1;
  }
  return n;
}

/**
 * Rebuilds the real path from AS_PATH (with AS_TRANS) and AS4_PATH, sent by a 2-octet speaker
 * (RFC 6793 §4.2.3): the leading ASes AS4_PATH lacks come from AS_PATH.
 */
export function mergeAs4Path(asPath: AsPathSegment[], as4Path: AsPathSegment[]): AsPathSegment[] {
  const extra = asPathLength(asPath) - asPathLength(as4Path);
  if (extra < 0) return asPath;
  const lead: AsPathSegment[] = [];
  let need = extra;
  for (const s of asPath) {
    if (need <= 0) break;
    if (s.type === AsSegmentType.SEQUENCE) {
      const take = s.asns.slice(0, need);
      lead.push({ type: s.type, asns: take });
      need -= take.length;
    } else if (s.type === AsSegmentType.SET) {
      lead.push(s);
      need -= 1;
    } else lead.push(s);
  }
  return [...lead, ...as4Path];
}

/** "65001 {65002 65003}" as BIRD and Cisco print paths; confederation segments in parentheses. */
export function formatAsPath(segments: AsPathSegment[]): string {
  return segments
    .map((s) => {
      const asns = s.asns.join(' ');
      if (s.type === AsSegmentType.SET) return `{${asns}}`;
      if (s.type === AsSegmentType.CONFED_SEQUENCE) return `(${asns})`;
      if (s.type === AsSegmentType.CONFED_SET) return `({${asns}})`;
      return asns;
    })
    .join(' ');
}
