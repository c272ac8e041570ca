// Network layer reachability as BGP carries it: a prefix is a bit length followed by the fewest
// octets that hold it (RFC 4271 §4.3, RFC 4760 §5). The walk over a list of them lives here;
// IPv4's full tables take a written-out copy of it (ipv4.ts) into RIB keys (prefix-key.ts). IPv6
// prefixes stay bytes here, so that they sit on whatever address type the rest of podnet uses
// for IPv6 without this module knowing its text form.

/** An IPv6 prefix as it travels: 16 address octets (host bits zero) and a bit length. */
export interface Ipv6Prefix {
  address: Uint8Array;
  length: number;
}

/** An IPv6 next hop of MP_REACH_NLRI: a global address, and a link-local one when sent. */
export interface Ipv6NextHop {
  global: Uint8Array;
  linkLocal?: Uint8Array;
}

export const IPV6_OCTETS = 16;

/** Octets a prefix of `length` bits takes on the wire after its length octet. */
export function prefixOctets(length: number): number {
  return (length + 7) >> 3;
}

/**
 * Walks the prefixes in buf[start, end), handing `make` where each one's octets start in `buf`
 * (those its length covers, without the length octet) and how many there are. Undefined when a
 * length is over `maxLength` or a prefix runs past the end: the caller decides what that costs
 * (RFC 7606 makes it a session reset).
 */
export function readPrefixList<T>(
  buf: Buffer,
  start: number,
  end: number,
  maxLength: number,
  make: (from: number, octets: number, length: number) => T,
): T[] | undefined {
  const out: T[] = [];
  let pos = start;
  while (pos < end) {
    const length = buf[pos]!;
    const octets = prefixOctets(length);
    if (length > maxLength || pos + 1 + octets > end) return undefined;
    out.push(make(pos + 1, octets, length));
    pos += 1 + octets;
  }
  return out;
}

/** Reads IPv6 prefixes from buf[start, end); undefined as for readPrefixList. */
export function readIpv6Prefixes(
  buf: Buffer,
  start: number,
  end: number,
): Ipv6Prefix[] | undefined {
  return readPrefixList(buf, start, end, 128, (from, octets, length) => {
    const address = new Uint8Array(IPV6_OCTETS);
    address.set(buf.subarray(from, from + octets));
    // Bits past the length are not part of the prefix, whatever the sender put there.
    if (length % 8 !== 0) address[octets - 1]! &= 0xff << (8 - (length % 8));
    return { address, length };
  });
}

/** Wire size of one IPv6 prefix (length octet included). */
export function ipv6PrefixWireSize(prefix: Ipv6Prefix): number {
  return 1 + prefixOctets(prefix.length);
}

/** The wire form of IPv6 prefixes, one after another. */
export function encodeIpv6Prefixes(prefixes: Ipv6Prefix[]): Buffer {
  const out = Buffer.alloc(prefixes.reduce((n, p) => n + ipv6PrefixWireSize(p), 0));
  let pos = 0;
  for (const p of prefixes) {
    if (p.length > 128 || p.address.length !== IPV6_OCTETS) {
      throw new Error(`not an IPv6 prefix: ${p.address.length} octets, length ${p.length}`);
    }
    out[pos] = p.length;
    out.set(p.address.subarray(0, prefixOctets(p.length)), pos + 1);
    pos += ipv6PrefixWireSize(p);
  }
  return out;
}

/** Reads an MP_REACH_NLRI IPv6 next hop: 16 octets, or 32 with the link-local one (RFC 2545 §3). */
export function readIpv6NextHop(bytes: Buffer): Ipv6NextHop | undefined {
  if (bytes.length !== IPV6_OCTETS && bytes.length !== 2 * IPV6_OCTETS) return undefined;
  const global = Uint8Array.from(bytes.subarray(0, IPV6_OCTETS));
  if (bytes.length === IPV6_OCTETS) return { global };
  return { global, linkLocal: Uint8Array.from(bytes.subarray(IPV6_OCTETS)) };
}

export function encodeIpv6NextHop(nextHop: Ipv6NextHop): Buffer {
  const parts = [nextHop.global, ...(nextHop.linkLocal ? [nextHop.linkLocal] : [])];
  if (parts.some((p) => p.length !== IPV6_OCTETS))
    throw new Error('IPv6 next hop is not 16 octets');
  return Buffer.concat(parts);
}
