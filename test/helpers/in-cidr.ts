// Containment on the text forms the fakes keep (an interface address such as 10.244.1.1/24
// counts as its network), for the fake kernels and the packet tracer.
import { containsIP, parseCidr, parseIP } from '../../src/net/index.js';

export function inCIDR(ip: string, cidr: string): boolean {
  return containsIP(parseCidr(cidr, { loose: true }), parseIP(ip));
}
