// IPv4 addresses and prefixes as BGP carries them: a prefix is a bit length followed by the
// fewest octets that hold it (RFC 4271 §4.3). Prefixes are kept as "a.b.c.d/len" strings so
// they can key RIB maps directly. The address math is ipam/cidr.ts's.
import { formatCidr, prefixMask, type Cidr } from '../ipam/cidr.js';

/**
 * Dotted quad → unsigned 32-bit number. Undefined when it is not a dotted quad. It takes
 * leading zeros ("010.0.0.1" is 10.0.0.1), which cidr.ts's tryParseIPv4 refuses: speaker
 * configs that have them keep loading.
 */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

/** "10.244.1.0/24" → its CIDR, with host bits cleared. Undefined when malformed. */
export function parsePrefix(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const network = parseIPv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (network === undefined || !/^\d{1,2}$/.test(lenText)) return undefined;
  const length = Number(lenText);
  if (length > 32) return undefined;
  return { base: (network & prefixMask(length)) >>> 0, prefix: length };
}

/** Octets a prefix of `length` bits takes on the wire after its length octet. */
export function prefixOctets(length: number): number {
  return (length + 7) >> 3;
}

/**
 * Reads prefixes from buf[start, end). Returns undefined when a length is over 32 or a prefix
 * runs past the end: the caller decides what that means (RFC 7606 makes it a session reset).
 */
export function readPrefixes(buf: Buffer, start: number, end: number): string[] | undefined {
  const out: string[] = [];
  let pos = start;
  while (pos < end) {
    const length = buf[pos]!;
    const octets = prefixOctets(length);
    if (length > 32 || pos + 1 + octets > end) return undefined;
    let network = 0;
    for (let i = 0; i < 4; i++) network = network * 256 + (i < octets ? buf[pos + 1 + i]! : 0);
    out.push(formatCidr({ base: (network & prefixMask(length)) >>> 0, prefix: length }));
    pos += 1 + octets;
  }
  return out;
}

/** Wire size of one prefix string (length octet included). */
export function prefixWireSize(prefix: string): number {
  const slash = prefix.indexOf('/');
  return 1 + prefixOctets(Number(prefix.slice(slash + 1)));
}

/** Writes one prefix at `pos`; returns the position after it. */
export function writePrefix(buf: Buffer, pos: number, prefix: string): number {
  const parsed = parsePrefix(prefix);
  if (!parsed) throw new Error(`not an IPv4 prefix: ${prefix}`);
  buf[pos] = parsed.prefix;
  const octets = prefixOctets(parsed.prefix);
  for (let i = 0; i < octets; i++) buf[pos + 1 + i] = (parsed.base >>> (24 - 8 * i)) & 255;
  return pos + 1 + octets;
}
