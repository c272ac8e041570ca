// Free-slot picking for IPAM: the lowest free subnet of a cluster CIDR for a node, a free host
// address of a subnet for a pod or a service. The address math is src/net's; what is taken
// comes from the caller, so everything here is pure.
import {
  containsIP,
  hostRange,
  lastAddress,
  nthSubnet,
  overlaps,
  subnetCount,
  familyBits,
  type Cidr,
  type IP,
} from '../net/index.js';

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
  const step = 1n << BigInt(familyBits(within.family) - prefix);
  const end = lastAddress(within).value;
  // Each taken block blocks a contiguous run of subnet indexes; find the first index no run covers.
  const runs: [bigint, bigint][] = [];
  for (const t of taken) {
    if (!overlaps(within, t)) continue;
    const lo = (t.base > within.base ? t.base : within.base) - within.base;
    const tEnd = lastAddress(t).value;
    const hi = (tEnd < end ? tEnd : end) - within.base;
    runs.push([lo / step, hi / step]);
  }
  runs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let candidate = 0n;
  for (const [lo, hi] of runs) {
    if (lo > candidate) break;
    if (hi + 1n > candidate) candidate = hi + 1n;
  }
  return candidate < count ? nthSubnet(within, prefix, candidate) : undefined;
}

/**
 * A free host address of `within`, searching upward from `from` (default: the first host
 * address) and wrapping around once, skipping `taken` and `reserved` (sets of address values
 * of `within`'s family). Undefined when full. Starting after the last one handed out spreads
 * reuse, as host-local's round robin does.
 */
export function pickFreeAddress(
  within: Cidr,
  taken: ReadonlySet<bigint>,
  opts: { from?: IP; reserved?: Iterable<IP> } = {},
): IP | undefined {
  const { first, last } = hostRange(within);
  const reserved = new Set([...(opts.reserved ?? [])].map((ip) => ip.value));
  const size = last.value - first.value + 1n;
  const from = opts.from;
  const start =
    from !== undefined &&
    containsIP(within, from) &&
    from.value >= first.value &&
    from.value <= last.value
      ? from.value
      : first.value;
  for (let i = 0n; i < size; i++) {
    const value = first.value + ((start - first.value + i) % size);
    if (!taken.has(value) && !reserved.has(value)) return { family: within.family, value };
  }
  return undefined;
}
