// IPv4 addresses and prefixes as BGP carries them: an address (router id, next hop, cluster
// id) as a 32-bit word, a prefix as a bit length followed by the fewest octets that hold it
// (RFC 4271 §4.3). Prefixes are read into and written from RIB keys (prefix-key.ts), so that
// a full table makes no string per prefix. The address math is src/net's.
import { formatIPv4Word, parseIPv4 } from '../net/index.js';
import { prefixOctets } from './nlri.js';
import { ipv4KeyLength, ipv4KeyWord, ipv4PrefixKey, type Ipv4PrefixKey } from './prefix-key.js';

/** A 32-bit word from the wire → dotted quad. */
export function formatIPv4(word: number): string {
  return formatIPv4Word(word >>> 0);
}

/** Dotted quad → the 32-bit word the wire carries; throws AddressError for anything else. */
export function ipv4Word(text: string): number {
  return Number(parseIPv4(text).value);
}

/**
 * Reads IPv4 prefixes from buf[start, end); undefined as for readPrefixList, whose walk this
 * is, written out: it runs once per prefix of a full table, and a fresh speaker runs it before
 * the JIT has had a chance to inline a callback (about a third of the decode's time).
 */
export function readPrefixes(buf: Buffer, start: number, end: number): Ipv4PrefixKey[] | undefined {
  const out: Ipv4PrefixKey[] = [];
  let pos = start;
  while (pos < end) {
    const length = buf[pos]!;
    const octets = prefixOctets(length);
    if (length > 32 || pos + 1 + octets > end) return undefined;
    // Plain 32-bit arithmetic. Bits past the length are noise on the wire; the key keeps only
    // what the length covers.
    let word = 0;
    for (let i = 1; i <= 4; i++) word = word * 256 + (i <= octets ? buf[pos + i]! : 0);
    out.push(ipv4PrefixKey(word, length));
    pos += 1 + octets;
  }
  return out;
}

/** Wire size of one prefix (length octet included). */
export function prefixWireSize(key: Ipv4PrefixKey): number {
  return 1 + prefixOctets(ipv4KeyLength(key));
}

/** Writes one prefix at `pos`; returns the position after it. */
export function writePrefix(buf: Buffer, pos: number, key: Ipv4PrefixKey): number {
  const length = ipv4KeyLength(key);
  const word = ipv4KeyWord(key);
  buf[pos] = length;
  const octets = prefixOctets(length);
  for (let i = 0; i < octets; i++) buf[pos + 1 + i] = (word >>> (24 - 8 * i)) & 255;
  return pos + 1 + octets;
}
