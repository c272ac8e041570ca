// IP addresses of either family as plain values: the family and the address as an unsigned
// integer (32 bits for IPv4, 128 for IPv6), so that comparing, sorting, containment and
// arithmetic are integer operations and the text form is produced in one place.
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

export interface IP {
  readonly family: Family;
  /** The address as an unsigned integer of `familyBits(family)` bits. */
  readonly value: bigint;
}

/** A text that is not the address or prefix it should be. The message quotes the text. */
export class AddressError extends Error {
  constructor(
    readonly text: string,
    readonly reason: string,
  ) {
    super(`"${text}": ${reason}`);
    this.name = 'AddressError';
  }
}

export function familyBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** 2^bits - 1 for the family: the largest address. */
export function familyMax(family: Family): bigint {
  return (1n << BigInt(familyBits(family))) - 1n;
}

// Decimal octets without leading zeros: "010.0.0.1" is not an address, because other readers
// (inet_aton, older Go) take the 010 as octal and would see 8.0.0.1 where we see 10.0.0.1.
// Read character by character rather than with a regular expression: the proxy parses every
// endpoint of every service on a full sync (100k at 10k services), and this is its hot path.
const DOT = 46;
const ZERO = 48;

function tryParseDottedQuad(text: string): bigint | undefined {
  const end = text.length;
  if (end < 7 || end > 15) return undefined;
  let value = 0;
  let i = 0;
  for (let octetIndex = 0; octetIndex < 4; octetIndex++) {
    if (octetIndex > 0) {
      if (text.charCodeAt(i) !== DOT) return undefined;
      i++;
    }
    const start = i;
    let octet = 0;
    while (i < end) {
      const digit = text.charCodeAt(i) - ZERO;
      if (digit < 0 || digit > 9) break;
      octet = octet * 10 + digit;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || octet > 255) return undefined;
    if (digits > 1 && text.charCodeAt(start) === ZERO) return undefined;
    value = value * 256 + octet;
  }
  return i === end ? BigInt(value) : undefined;
}

function tryParseColonHex(text: string): bigint | undefined {
  // No zone ("%eth0"): a zone names a link on one host, not an address the cluster can share.
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  // An embedded IPv4 tail follows the same dotted-quad rule as a plain IPv4 address.
  const tail = text.slice(text.lastIndexOf(':') + 1);
  if (tail.includes('.') && tryParseDottedQuad(tail) === undefined) return undefined;
  let value = 0n;
  for (const part of ipaddr.IPv6.parse(text).parts) value = (value << 16n) | BigInt(part);
  return value;
}

/** The address `text` denotes, of either family, or undefined. */
export function tryParseIP(text: string): IP | undefined {
  const v4 = tryParseDottedQuad(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = tryParseColonHex(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

/** The address `text` denotes, of either family; throws AddressError. */
export function parseIP(text: string): IP {
  const ip = tryParseIP(text);
  if (!ip) throw new AddressError(text, 'not an IPv4 or IPv6 address');
  return ip;
}

/** Only an IPv4 address (for what has no IPv6 form, such as a BGP identifier); throws AddressError. */
export function parseIPv4(text: string): IP {
  const value = tryParseDottedQuad(text);
  if (value === undefined) {
    throw new AddressError(text, 'not an IPv4 address (expected e.g. 10.244.1.5)');
  }
  return { family: 4, value };
}

export function isIP(text: string): boolean {
  return tryParseIP(text) !== undefined;
}

export function isIPv4(text: string): boolean {
  return tryParseDottedQuad(text) !== undefined;
}

function formatDottedQuad(value: bigint): string {
  return formatIPv4Word(Number(value));
}

/**
 * The dotted quad of an IPv4 address given as a 32-bit number, for readers of wire formats
 * that hold one (BGP reads 100k of them in a full table: no IP value made per address).
 */
export function formatIPv4Word(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 255}.${(word >>> 8) & 255}.${word & 255}`;
}

/** RFC 5952: lowercase, no leading zeros, the longest run of two or more zero groups as "::". */
function formatColonHex(value: bigint): string {
  // IPv4-mapped addresses keep their IPv4 form (RFC 5952 §5).
  if (value >> 32n === 0xffffn) return `::ffff:${formatDottedQuad(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

/** The canonical text: dotted quad for IPv4, RFC 5952 for IPv6. */
export function formatIP(ip: IP): string {
  return ip.family === 4 ? formatDottedQuad(ip.value) : formatColonHex(ip.value);
}

/** Orders IPv4 before IPv6, then by value: a total order for sorting mixed lists. */
export function compareIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

export function sameIP(a: IP, b: IP): boolean {
  return a.family === b.family && a.value === b.value;
}

/** The address `delta` places after `ip` (before, when negative); RangeError past the family's ends. */
export function addToIP(ip: IP, delta: bigint | number): IP {
  const value = ip.value + BigInt(delta);
  if (value < 0n || value > familyMax(ip.family)) {
    throw new RangeError(`${formatIP(ip)} + ${delta} is outside the IPv${ip.family} space`);
  }
  return { family: ip.family, value };
}

/** The address in network byte order: 4 bytes for IPv4, 16 for IPv6. */
export function ipBytes(ip: IP): number[] {
  const count = familyBits(ip.family) / 8;
  const out: number[] = [];
  for (let i = count - 1; i >= 0; i--) out.push(Number((ip.value >> BigInt(8 * i)) & 0xffn));
  return out;
}

/** The address of 4 (IPv4) or 16 (IPv6) bytes in network byte order. */
export function ipFromBytes(bytes: readonly number[]): IP {
  if (bytes.length !== 4 && bytes.length !== 16) {
    throw new RangeError(`an address has 4 or 16 bytes, not ${bytes.length}`);
  }
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b & 0xff);
  return { family: bytes.length === 4 ? 4 : 6, value };
}
