// The RIB's key for an IPv4 prefix: one number, so that a full table costs no string per
// prefix to make, hash or compare. The number is the prefix's node in a binary trie numbered
// from 1 at the root (0.0.0.0/0), each node n having children 2n and 2n+1: a /len prefix is
// 2^len plus its first len bits. Host bits cannot change it, every length has its own range
// ([2^len, 2^(len+1))), and up to /30 it stays under 2^31, where V8 keeps a number unboxed
// (a Smi), so the keys of a full table of /24s allocate nothing. An IPv6 prefix does not fit
// a number: its key is the prefix's canonical text (what the kernel prints), under a brand of
// its own so that a key of one family can never be looked up in the other family's table.
import {
  cidrOf,
  formatCidr,
  formatIPv4Word,
  ipBytes,
  ipFromBytes,
  networkAddress,
  parseCidr,
} from '../net/index.js';
import type { Ipv6Prefix } from './nlri.js';

declare const ipv4PrefixBrand: unique symbol;

declare const ipv6PrefixBrand: unique symbol;

/** An IPv4 prefix as its trie node number (see above). */
export type Ipv4PrefixKey = number & { readonly [ipv4PrefixBrand]: true };

/** 2^i for i in 0..32: the first key of each prefix length. */
const LENGTH_BASE = Array.from({ length: 33 }, (_, i) => 2 ** i);

/** The key of the prefix of `length` bits that holds the 32-bit word `word`. */
export function ipv4PrefixKey(word: number, length: number): Ipv4PrefixKey {
  // A shift by 32 is a shift by 0 in JavaScript: /0 keeps no bits, said outright.
  const network = length === 0 ? 0 : word >>> (32 - length);
  return (LENGTH_BASE[length]! + network) as Ipv4PrefixKey;
}

/** The prefix length of a key. */
export function ipv4KeyLength(key: Ipv4PrefixKey): number {
  // clz32 reads its argument as 32 bits; only /32 keys (2^32 and up) are wider.
  return key >= LENGTH_BASE[32]! ? 32 : 31 - Math.clz32(key);
}

/** The network address of a key as a 32-bit word (host bits zero). */
export function ipv4KeyWord(key: Ipv4PrefixKey): number {
  const length = ipv4KeyLength(key);
  return (key - LENGTH_BASE[length]!) * LENGTH_BASE[32 - length]!;
}

/** "a.b.c.d/len". */
export function formatIpv4Key(key: Ipv4PrefixKey): string {
  return `${formatIPv4Word(ipv4KeyWord(key))}/${ipv4KeyLength(key)}`;
}

/** "a.b.c.d/len" → its key (host bits are dropped); throws AddressError, or for an IPv6 prefix. */
export function parseIpv4Key(text: string): Ipv4PrefixKey {
  const cidr = parseCidr(text, { loose: true });
  if (cidr.family !== 4) throw new Error(`not an IPv4 prefix: ${text}`);
  return ipv4PrefixKey(Number(cidr.base), cidr.prefix);
}

/** An IPv6 prefix as its canonical text, "2001:db8::/64" (see above). */
export type Ipv6PrefixKey = string & { readonly [ipv6PrefixBrand]: true };

/** The key of an IPv6 prefix as it travels. */
export function ipv6PrefixKey(prefix: Ipv6Prefix): Ipv6PrefixKey {
  return formatCidr(cidrOf(ipFromBytes([...prefix.address]), prefix.length)) as Ipv6PrefixKey;
}

/** The prefix of a key, as it travels. */
export function ipv6KeyPrefix(key: Ipv6PrefixKey): Ipv6Prefix {
  const cidr = parseCidr(key);
  return { address: Uint8Array.from(ipBytes(networkAddress(cidr))), length: cidr.prefix };
}

/** "2001:db8::/64" → its key (host bits are dropped); throws AddressError, or for an IPv4 prefix. */
export function parseIpv6Key(text: string): Ipv6PrefixKey {
  const cidr = parseCidr(text, { loose: true });
  if (cidr.family !== 6) throw new Error(`not an IPv6 prefix: ${text}`);
  return formatCidr(cidr) as Ipv6PrefixKey;
}
