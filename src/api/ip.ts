// The little IPv4 arithmetic validation needs (the api room uses nothing else of ours;
// src/ipam/ has the full CIDR math).

/** Parses a dotted-quad IPv4 address to a 32-bit unsigned number, or undefined. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const octet = Number(p);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export interface CIDR {
  /** Network address as a 32-bit unsigned number. */
  base: number;
  prefix: number;
}

/** Parses `a.b.c.d/n` where the address is the network address itself (no host bits set). */
export function parseCIDR(text: string): CIDR | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const base = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (base === undefined || prefix > 32) return undefined;
  if (base % 2 ** (32 - prefix) !== 0) return undefined;
  return { base, prefix };
}

export function cidrContains(cidr: CIDR, address: number): boolean {
  const size = 2 ** (32 - cidr.prefix);
  return address >= cidr.base && address < cidr.base + size;
}
