// The figures of store writes over a fault's window: how many ended ok and failed, and the
// longest time the writer went without a write acknowledged. Pure, so it is unit-tested.
import { longestGap, type FaultWindow } from './chaos-figures.js';

/** One write as the writer printed it: start (epoch ms), how long it took, and whether it ended ok. */
export interface StoreWrite {
  /** The writes are numbered in the order they started. */
  seq: number;
  start: number;
  ms: number;
  ok: boolean;
  error?: string;
}

export interface WriteFigures {
  ok: number;
  failed: number;
  gapMs: number;
  /** The first failure's message, for the report. */
  firstError?: string;
}

export function writeFigures(writes: readonly StoreWrite[], w: FaultWindow): WriteFigures {
  const inWindow = writes.filter((x) => x.start >= w.from && x.start <= w.to);
  const failed = inWindow.filter((x) => !x.ok);
  return {
    ok: inWindow.length - failed.length,
    failed: failed.length,
    gapMs: longestGap(inWindow, w),
    ...(failed[0]?.error ? { firstError: failed[0].error } : {}),
  };
}

/**
 * Whether every write that started by `at` has ended: some write started after it has, and no
 * number below that one's is missing (writes start in order, so a missing one is still pending).
 */
export function endedBy(writes: readonly StoreWrite[], at: number): boolean {
  const after = writes.filter((x) => x.start > at).map((x) => x.seq);
  if (after.length === 0) return false;
  const seen = new Set(writes.map((x) => x.seq));
  const upTo = Math.min(...after);
  for (let seq = Math.min(...seen); seq < upTo; seq++) if (!seen.has(seq)) return false;
  return true;
}
