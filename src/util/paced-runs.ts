// A synchronous pass over a whole table, asked for on every change, paced by its own cost: the
// first ask runs at once; asks that come sooner than `factor` times the last pass's duration
// after it ended are served by one pass at that time. On an idle process a single change is
// handled at once, whatever the table's size; under a stream of changes the passes take at most
// 1/(1+factor) of the time, where a pass per change over a table that grows with the changes
// (n changes, each a pass over n) would grow as n².

export interface PacedRuns {
  /** Asks for a pass: now, or once the pause after the last one is over. */
  trigger(): void;
  /** No further passes (a pending one is dropped). */
  stop(): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { unref?: () => void };
  clearTimeout(handle: unknown): void;
}

const REAL_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export function pacedRuns(run: () => void, factor: number, clock: Clock = REAL_CLOCK): PacedRuns {
  let notBefore = -Infinity;
  let pending: unknown;
  let stopped = false;
  const pass = (): void => {
    pending = undefined;
    if (stopped) return;
    const started = clock.now();
    try {
      run();
    } finally {
      const ended = clock.now();
      notBefore = ended + (ended - started) * factor;
    }
  };
  return {
    trigger(): void {
      if (stopped || pending !== undefined) return;
      const wait = notBefore - clock.now();
      if (wait <= 0) {
        pass();
        return;
      }
      const handle = clock.setTimeout(pass, wait);
      handle.unref?.();
      pending = handle;
    },
    stop(): void {
      stopped = true;
      if (pending !== undefined) clock.clearTimeout(pending);
      pending = undefined;
    },
  };
}
