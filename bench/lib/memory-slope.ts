// Memory over a soak: samples of one process's VmRSS (or of its heap after garbage collection),
// and the slope of a least-squares line through those taken after warm-up, in MB per 10 minutes
// (the soak's goal is ≤ 1).
import { readFileSync } from 'node:fs';

export interface MemorySample {
  /** ms since the soak began */
  at: number;
  mb: number;
}

/** VmRSS of `pid` in MB; undefined when it is gone. */
export function residentMB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** MB per 10 minutes over the samples at or after `warmUpMs`; undefined under two of them. */
export function slopePerTenMinutes(
  samples: readonly MemorySample[],
  warmUpMs: number,
): number | undefined {
  const points = samples.filter((s) => s.at >= warmUpMs);
  if (points.length < 2) return undefined;
  const meanAt = points.reduce((sum, s) => sum + s.at, 0) / points.length;
  const meanMB = points.reduce((sum, s) => sum + s.mb, 0) / points.length;
  let covariance = 0;
  let variance = 0;
  for (const s of points) {
    covariance += (s.at - meanAt) * (s.mb - meanMB);
    variance += (s.at - meanAt) ** 2;
  }
  return (covariance / variance) * 600_000;
}
