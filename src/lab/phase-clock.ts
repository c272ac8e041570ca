// How long each phase of `lab up` took, for its log: a slow `lab up` says where its time went
// (Node start-up of the agents, their first sync, the cluster DNS pods...) without a profiler.

export interface PhaseTiming {
  phase: string;
  /** Since the previous phase ended (or the clock started). */
  ms: number;
  /** Since the clock started. */
  sinceStartMs: number;
}

export interface PhaseClock {
  /** Ends `phase` now and returns its timing; the next phase starts now. */
  end(phase: string): PhaseTiming;
  /** Every phase ended so far, by name, in milliseconds: one object for a summary log line. */
  summary(): Record<string, number>;
}

export function phaseClock(now: () => number = Date.now): PhaseClock {
  const start = now();
  let last = start;
  const ended: PhaseTiming[] = [];
  return {
    end(phase) {
      const t = now();
      const timing = { phase, ms: t - last, sinceStartMs: t - start };
      last = t;
      ended.push(timing);
      return timing;
    },
    summary() {
      return Object.fromEntries(ended.map((p) => [p.phase, p.ms]));
    },
  };
}
