// The little IPv4 arithmetic routing needs: a subnet's network address (the VXLAN gateway
// `.0`) and whether a peer's address is on the underlay's segment.
// TODO(merge): switch to src/ipam/cidr.ts once it is in main.

export function ipToNumber(ip: string): number {
  // Hand-rolled: this runs for every peer on every reconcile.
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // a final '.'
    if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else if (c === 46 && digits > 0 && octet <= 255) {
      n = n * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      throw new Error(`${ip} is not an IPv4 address`);
    }
  }
  if (dots !== 4) throw new Error(`${ip} is not an IPv4 address`);
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
  const n = ipToNumber(ip);
  return { base: n - (n % size), prefix };
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
