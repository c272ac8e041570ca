// The little IPv4 arithmetic routing needs: a subnet's network address (the VXLAN gateway
// `.0`) and whether a peer's address is on the underlay's segment.
// TODO(merge): switch to src/ipam/cidr.ts once it is in main.

export function ipToNumber(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new Error(`${ip} is not an IPv4 address`);
  let n = 0;
  for (const p of parts) {
    const octet = Number(p);
    if (!/^\d{1,3}$/.test(p) || octet > 255) throw new Error(`${ip} is not an IPv4 address`);
    n = n * 256 + octet;
  }
  return n;
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function parseCidr(cidr: string): { base: number; prefix: number } {
  const [ip, len] = cidr.split('/');
  const prefix = Number(len);
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new Error(`${cidr} is not an IPv4 CIDR`);
  }
  const size = 2 ** (32 - prefix);
  return { base: ipToNumber(ip) - (ipToNumber(ip) % size), prefix };
}

/** The network address of a CIDR: `10.244.3.0` for `10.244.3.0/24`. */
export function networkAddress(cidr: string): string {
  return numberToIp(parseCidr(cidr).base);
}

/** True when `ip` lies in `address/prefixLength`. */
export function sameSubnet(ip: string, address: string, prefixLength: number): boolean {
  const size = 2 ** (32 - prefixLength);
  return Math.floor(ipToNumber(ip) / size) === Math.floor(ipToNumber(address) / size);
}
