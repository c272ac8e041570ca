// IPv4 addresses and prefixes as BGP carries them: an address (router id, next hop, cluster
// id) as a 32-bit word, a prefix as a bit length followed by the fewest octets that hold it
// (RFC 4271 §4.3). Prefixes are kept as "a.b.c.d/len" strings so they can key RIB maps
// directly. The address math is src/net's.
import {
  cidrOf,
  formatCidr,
  formatIP,
  ipBytes,
  ipFromBytes,
  parseCidr,
  parseIPv4,
} from '../net/index.js';

/** A 32-bit word from the wire → dotted quad. */
export function formatIPv4(word: number): string {
  return formatIP({ family: 4, value: BigInt(word >>> 0) });
}

/** Dotted quad → the 32-bit word the wire carries; throws AddressError for anything else. */
export function ipv4Word(text: string): number {
  return Number(parseIPv4(text).value);
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
    const bytes = [0, 0, 0, 0];
    for (let i = 0; i < octets; i++) bytes[i] = buf[pos + 1 + i]!;
    // Bits past the length are noise on the wire: the prefix is what the length covers.
    out.push(formatCidr(cidrOf(ipFromBytes(bytes), length)));
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
  const cidr = parseCidr(prefix, { loose: true });
  if (cidr.family !== 4) throw new Error(`not an IPv4 prefix: ${prefix}`);
  buf[pos] = cidr.prefix;
  const octets = prefixOctets(cidr.prefix);
  const bytes = ipBytes({ family: 4, value: cidr.base });
  for (let i = 0; i < octets; i++) buf[pos + 1 + i] = bytes[i]!;
  return pos + 1 + octets;
}
