// IPv4 addresses and prefixes as BGP carries them: an address (router id, next hop, cluster
// id) as a 32-bit word, a prefix as a bit length followed by the fewest octets that hold it
// (RFC 4271 §4.3). Prefixes are kept as "a.b.c.d/len" strings so they can key RIB maps
// directly. The address math is src/net's.
import { formatIPv4Word, ipBytes, parseCidr, parseIPv4 } from '../net/index.js';
import { prefixOctets, readPrefixList } from './nlri.js';

/** A 32-bit word from the wire → dotted quad. */
export function formatIPv4(word: number): string {
  return formatIPv4Word(word >>> 0);
}

/** Dotted quad → the 32-bit word the wire carries; throws AddressError for anything else. */
export function ipv4Word(text: string): number {
  return Number(parseIPv4(text).value);
}

/** Reads IPv4 prefixes from buf[start, end); undefined as for readPrefixList. */
export function readPrefixes(buf: Buffer, start: number, end: number): string[] | undefined {
  // Plain 32-bit arithmetic: this runs once per prefix of a full table.
  return readPrefixList(buf, start, end, 32, (from, octets, length) => {
    let word = 0;
    for (let i = 0; i < 4; i++) word = word * 256 + (i < octets ? buf[from + i]! : 0);
    // Bits past the length are noise on the wire: the prefix is what the length covers.
    const mask = length === 0 ? 0 : 0xffffffff << (32 - length);
    return `${formatIPv4Word((word & mask) >>> 0)}/${length}`;
  });
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
