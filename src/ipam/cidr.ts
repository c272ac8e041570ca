// IPv4 addresses and CIDR blocks as plain numbers: parsing, formatting, containment, subnets
// and free-slot picking. Shared by IPAM, routing, proxy and DNS so every part agrees on what
// "10.244.1.0/24" means. An address is an unsigned 32-bit integer; a CIDR is its network
// address plus a prefix length. Everything here is pure.
import { UsageError } from '../util/errors.js';

export interface Cidr {
  /** Network address (host bits zero), as an unsigned 32-bit integer. */
  base: number;
  /** Prefix length, 0..32. */
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as a number, or undefined when `text` is not a dotted-quad IPv4 address. */
export function tryParseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function isIPv4(text: string): boolean {
  return tryParseIPv4(text) !== undefined;
}

/** Parses a dotted-quad address; `what` names the field in the error. */
export function parseIPv4(text: string, what = 'address'): number {
  const n = tryParseIPv4(text);
  if (n === undefined) {
    throw new UsageError(`${what} "${text}": not an IPv4 address (expected e.g. 10.244.1.5)`);
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The netmask of a prefix length as a number (24 → 255.255.255.0). */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function parsePrefix(text: string): number | undefined {
  if (!/^(3[0-2]|[12]?\d)$/.test(text)) return undefined;
  return Number(text);
}

/**
 * Parses `a.b.c.d/n`. By default the host bits must be zero (a network, as in a cluster CIDR);
 * with `{ loose: true }` they are masked off (an interface address such as 10.244.1.5/24).
 */
export function parseCidr(text: string, what = 'CIDR', opts: { loose?: boolean } = {}): Cidr {
  const [addr = '', prefixText, extra] = text.split('/');
  const ip = tryParseIPv4(addr);
  const prefix = prefixText === undefined ? undefined : parsePrefix(prefixText);
  if (ip === undefined || prefix === undefined || extra !== undefined) {
    throw new UsageError(`${what} "${text}": not an IPv4 CIDR (expected e.g. 10.244.0.0/16)`);
  }
  const base = (ip & prefixMask(prefix)) >>> 0;
  if (base !== ip && !opts.loose) {
    const fixed = formatCidr({ base, prefix });
    throw new UsageError(`${what} "${text}": has host bits set (the network is ${fixed})`);
  }
  return { base, prefix };
}

export function tryParseCidr(text: string): Cidr | undefined {
  try {
    return parseCidr(text);
  } catch {
    return undefined;
  }
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

/** Number of addresses in the block (2^(32-prefix)). */
export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function networkAddress(c: Cidr): number {
  return c.base;
}

export function broadcastAddress(c: Cidr): number {
  return c.base + cidrSize(c) - 1;
}

export function containsIP(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip <= broadcastAddress(c);
}

/** True when `inner` lies wholly inside `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && containsIP(outer, inner.base);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= broadcastAddress(b) && b.base <= broadcastAddress(a);
}

/** How many `/prefix` subnets `c` splits into (0 when prefix is shorter than c's). */
export function subnetCount(c: Cidr, prefix: number): number {
  return prefix < c.prefix ? 0 : 2 ** (prefix - c.prefix);
}

/** The nth (0-based) `/prefix` subnet of `c`. */
export function nthSubnet(c: Cidr, prefix: number, n: number): Cidr {
  if (!Number.isInteger(n) || n < 0 || n >= subnetCount(c, prefix)) {
    throw new RangeError(`${formatCidr(c)} has no /${prefix} subnet number ${n}`);
  }
  return { base: c.base + n * 2 ** (32 - prefix), prefix };
}

/** The first and last usable host address: all of a /31 or /32, else without network and broadcast. */
export function hostRange(c: Cidr): { first: number; last: number } {
  if (c.prefix >= 31) return { first: c.base, last: broadcastAddress(c) };
  return { first: c.base + 1, last: broadcastAddress(c) - 1 };
}

/** Number of usable host addresses. */
export function hostCount(c: Cidr): number {
  const { first, last } = hostRange(c);
  return last - first + 1;
}

/** Every usable host address, in order. */
export function* hostAddresses(c: Cidr): Generator<number> {
  const { first, last } = hostRange(c);
  for (let ip = first; ip <= last; ip++) yield ip;
}

/**
 * The lowest `/prefix` subnet of `within` that overlaps none of `taken` (which may have any
 * size), or undefined when all are taken. Linear in the number of taken blocks.
 */
export function pickFreeSubnet(
  within: Cidr,
  prefix: number,
  taken: Iterable<Cidr>,
): Cidr | undefined {
  const count = subnetCount(within, prefix);
  const step = 2 ** (32 - prefix);
  // Each taken block blocks a contiguous run of subnet indexes; find the first index no run covers.
  const runs: [number, number][] = [];
  for (const t of taken) {
    if (!overlaps(within, t)) continue;
    const lo = Math.max(t.base, within.base) - within.base;
    const hi = Math.min(broadcastAddress(t), broadcastAddress(within)) - within.base;
    runs.push([Math.floor(lo / step), Math.floor(hi / step)]);
  }
  runs.sort((a, b) => a[0] - b[0]);
  let candidate = 0;
  for (const [lo, hi] of runs) {
    if (lo > candidate) break;
    candidate = Math.max(candidate, hi + 1);
  }
  return candidate < count ? nthSubnet(within, prefix, candidate) : undefined;
}

/**
 * A free host address of `within`, searching upward from `from` (default: the first host
 * address) and wrapping around once, skipping `taken` and `reserved`. Undefined when full.
 * Starting after the last one handed out spreads reuse, as host-local's round robin does.
 */
export function pickFreeAddress(
  within: Cidr,
  taken: ReadonlySet<number>,
  opts: { from?: number; reserved?: Iterable<number> } = {},
): number | undefined {
  const { first, last } = hostRange(within);
  const reserved = new Set(opts.reserved ?? []);
  const size = last - first + 1;
  const start =
    opts.from !== undefined && opts.from >= first && opts.from <= last ? opts.from : first;
  for (let i = 0; i < size; i++) {
    const ip = first + ((start - first + i) % size);
    if (!taken.has(ip) && !reserved.has(ip)) return ip;
  }
  return undefined;
}
