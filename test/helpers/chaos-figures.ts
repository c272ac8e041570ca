// The chaos run's figures for one fault, from the requests every client recorded: how many
// failed, the longest time a client went without an answer, and how long after the fault was
// cleared requests succeeded again. Pure, so the arithmetic is unit-tested.
import type { ChaosRequest } from './chaos-client.js';

/** A fault's window: traffic from `from` to `to` (epoch ms), the fault cleared at `clearedAt`. */
export interface FaultWindow {
  from: number;
  to: number;
  clearedAt: number;
}

export interface FaultFigures {
  ok: number;
  failed: number;
  failedLookups: number;
  slowestLookupMs: number;
  /** The longest stretch any client went without a successful answer. */
  gapMs: number;
  /** From the fault cleared to answers for good (see `recovery`). */
  recoveryMs: number;
}

export function faultFigures(
  byClient: ReadonlyMap<string, readonly ChaosRequest[]>,
  w: FaultWindow,
): FaultFigures {
  const figures: FaultFigures = {
    ok: 0,
    failed: 0,
    failedLookups: 0,
    slowestLookupMs: 0,
    gapMs: 0,
    recoveryMs: 0,
  };
  for (const all of byClient.values()) {
    const inWindow = all.filter((r) => r.start >= w.from && r.start <= w.to);
    for (const r of inWindow) {
      if (r.ok) figures.ok++;
      else figures.failed++;
      if (r.stage === 'lookup') figures.failedLookups++;
      figures.slowestLookupMs = Math.max(figures.slowestLookupMs, r.lookupMs);
    }
    figures.gapMs = Math.max(figures.gapMs, longestGap(inWindow, w));
    figures.recoveryMs = Math.max(figures.recoveryMs, recovery(inWindow, w.clearedAt));
  }
  return figures;
}

/** The longest time between successive answers, counting from the window's start and to its end. */
export function longestGap(
  requests: readonly Pick<ChaosRequest, 'start' | 'ms' | 'ok'>[],
  w: FaultWindow,
): number {
  const ends = requests
    .filter((r) => r.ok)
    .map((r) => r.start + r.ms)
    .sort((a, b) => a - b);
  let gap = 0;
  let last = w.from;
  for (const end of [...ends, w.to]) {
    gap = Math.max(gap, end - last);
    last = Math.max(last, end);
  }
  return gap;
}

/**
 * When answers came back for good: from `clearedAt` to the end of the first successful request
 * that started after it and after its last failure. Requests started before `clearedAt` are left
 * out: how long they take is the client's own retry timers (TCP, the resolver), not the network.
 */
export function recovery(requests: readonly ChaosRequest[], clearedAt: number): number {
  const after = requests.filter((r) => r.start >= clearedAt).sort((a, b) => a.start - b.start);
  const next = after.slice(after.findLastIndex((r) => !r.ok) + 1).find((r) => r.ok);
  if (!next) return Number.POSITIVE_INFINITY;
  return next.start + next.ms - clearedAt;
}
