// The statistics every benchmark prints: percentiles by nearest rank, the median, the range.

/** The p-th percentile by nearest rank (p99 of 100 samples is the 99th smallest). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

/** The median (the upper one of an even count). */
export function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

/** "min-max" of the samples, each with `digits` decimals: the spread beside a median. */
export function range(values: readonly number[], digits = 2): string {
  return `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
}

/**
 * The IPv6 ÷ IPv4 throughput a server would have if IPv6 cost its own code nothing: its IPv4
 * time per request plus the time IPv6 adds to a floor server's (the kernel's and the load
 * generator's share, the same for any server), all from rates per second.
 */
export function floorRatio(ours4: number, floor4: number, floor6: number): number {
  const ours = 1 / ours4;
  return ours / (ours + (1 / floor6 - 1 / floor4));
}
