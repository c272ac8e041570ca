// Prefixes (CIDR blocks) of either family: a network address with its host bits zero and a
// prefix length. Containment and overlap never hold across families.
import { AddressError, familyBits, formatIP, tryParseIP, type Family, type IP } from './address.js';

export interface Cidr {
  readonly family: Family;
  /** The network address (host bits zero) as an unsigned integer. */
  readonly base: bigint;
  /** Prefix length, 0..32 for IPv4, 0..128 for IPv6. */
  readonly prefix: number;
}

export interface CidrOptions {
  /**
   * Mask host bits off instead of refusing them: for an interface address such as
   * 10.244.1.5/24, where the address is the point. A network (a cluster or service CIDR) with
   * host bits set is a mistake, hence strict by default.
   */
  loose?: boolean;
}

/** The mask of the first `prefix` bits of the family, as an integer. */
export function prefixMask(family: Family, prefix: number): bigint {
  const bits = familyBits(family);
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

/** The prefix of length `prefix` that holds `ip` (its host bits cleared). */
export function cidrOf(ip: IP, prefix: number): Cidr {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > familyBits(ip.family)) {
    throw new RangeError(`/${prefix} is not a prefix length of IPv${ip.family}`);
  }
  return { family: ip.family, base: ip.value & prefixMask(ip.family, prefix), prefix };
}

const LENGTH = /^(0|[1-9]\d{0,2})$/;

/** `address/length` of either family; throws AddressError. Host bits are refused unless loose. */
export function parseCidr(text: string, opts: CidrOptions = {}): Cidr {
  const slash = text.indexOf('/');
  const ip = slash < 0 ? undefined : tryParseIP(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!ip || !LENGTH.test(lengthText)) {
    throw new AddressError(text, 'not an IPv4 or IPv6 prefix (expected e.g. 10.244.0.0/16)');
  }
  const prefix = Number(lengthText);
  const bits = familyBits(ip.family);
  if (prefix > bits) {
    throw new AddressError(
      text,
      `prefix length ${prefix} is longer than IPv${ip.family}'s ${bits}`,
    );
  }
  const cidr = cidrOf(ip, prefix);
  if (cidr.base !== ip.value && !opts.loose) {
    throw new AddressError(text, `has host bits set (the network is ${formatCidr(cidr)})`);
  }
  return cidr;
}

export function tryParseCidr(text: string, opts: CidrOptions = {}): Cidr | undefined {
  try {
    return parseCidr(text, opts);
  } catch (err) {
    if (err instanceof AddressError) return undefined;
    throw err;
  }
}

export function formatCidr(c: Cidr): string {
  return `${formatIP(networkAddress(c))}/${c.prefix}`;
}

/** Number of addresses in the block. */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefix);
}

export function networkAddress(c: Cidr): IP {
  return { family: c.family, value: c.base };
}

/** The block's last address (IPv4's broadcast address). */
export function lastAddress(c: Cidr): IP {
  return { family: c.family, value: c.base + cidrSize(c) - 1n };
}

export function containsIP(c: Cidr, ip: IP): boolean {
  return ip.family === c.family && ip.value >= c.base && ip.value < c.base + cidrSize(c);
}

/** True when `inner` lies wholly inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && containsIP(outer, networkAddress(inner));
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base === b.base && a.prefix === b.prefix;
}

/** How many `/prefix` subnets `c` splits into (0 when prefix is shorter than c's). */
export function subnetCount(c: Cidr, prefix: number): bigint {
  if (prefix < c.prefix || prefix > familyBits(c.family)) return 0n;
  return 1n << BigInt(prefix - c.prefix);
}

/** The nth (0-based) `/prefix` subnet of `c`. */
export function nthSubnet(c: Cidr, prefix: number, n: bigint | number): Cidr {
  const index = BigInt(n);
  if (index < 0n || index >= subnetCount(c, prefix)) {
    throw new RangeError(`${formatCidr(c)} has no /${prefix} subnet number ${n}`);
  }
  const step = 1n << BigInt(familyBits(c.family) - prefix);
  return { family: c.family, base: c.base + index * step, prefix };
}

/**
 * The first and last address a host may use. IPv4 leaves out the network and broadcast
 * addresses, IPv6 the subnet-router anycast address (the first; IPv6 has no broadcast);
 * point-to-point blocks (/31, /127) and single addresses keep them all.
 */
export function hostRange(c: Cidr): { first: IP; last: IP } {
  const bits = familyBits(c.family);
  const last = lastAddress(c);
  if (c.prefix >= bits - 1) return { first: networkAddress(c), last };
  const first = { family: c.family, value: c.base + 1n };
  return { first, last: c.family === 4 ? { family: 4, value: last.value - 1n } : last };
}

/** Number of usable host addresses. */
export function hostCount(c: Cidr): bigint {
  const { first, last } = hostRange(c);
  return last.value - first.value + 1n;
}

/** Every usable host address, in order. */
export function* hostAddresses(c: Cidr): Generator<IP> {
  const { first, last } = hostRange(c);
  for (let value = first.value; value <= last.value; value++) yield { family: c.family, value };
}
