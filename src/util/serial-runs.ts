// One reconcile at a time: a trigger while one runs asks for exactly one more run after it,
// however many triggers came in between, so a burst of changes costs at most two passes.
// Triggers before `open()` are ignored: a controller must not act on a partial view. A run
// that throws is reported to `onError` and the loop carries on: the next trigger runs again.

export interface SerialRuns {
  /** From now on, triggers run; runs once at once. */
  open(): void;
  /** Asks for a run (coalesced with one already running or asked for). */
  trigger(): void;
  /** Resolves once no run is in progress or asked for. */
  idle(): Promise<void>;
  /** No further runs; resolves once the current one is over. */
  stop(): Promise<void>;
}

export function serialRuns(run: () => Promise<void>, onError: (err: unknown) => void): SerialRuns {
  let running: Promise<void> | undefined;
  let again = false;
  let opened = false;
  let stopped = false;
  const loop = async (): Promise<void> => {
    try {
      do {
        again = false;
        try {
          await run();
        } catch (err) {
          onError(err);
        }
      } while (again && !stopped);
    } finally {
      running = undefined;
    }
  };
  const trigger = (): void => {
    if (stopped || !opened) return;
    if (running) again = true;
    else running = loop();
  };
  const idle = async (): Promise<void> => {
    while (running) await running;
  };
  return {
    open: () => {
      opened = true;
      trigger();
    },
    trigger,
    idle,
    stop: async () => {
      stopped = true;
      await idle();
    },
  };
}
