// A bound on how long one awaited step may take, for loops that must keep going even when
// something they wait on (a remote API, a store) never answers.
import { OperationError } from './errors.js';

/** A step that did not settle in time; the work itself may still be running, unheeded. */
export class DeadlineError extends OperationError {
  constructor(message: string) {
    super(message);
    this.name = 'DeadlineError';
  }
}

/** `work`'s outcome, or a DeadlineError naming `what` once `ms` have passed without one. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DeadlineError(`${what} did not finish within ${formatMs(ms)}`)),
      ms,
    );
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}
