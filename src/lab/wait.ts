// Polling with a deadline (the machine is shared and slow: never a fixed sleep).
import { setTimeout as sleep } from 'node:timers/promises';

/** Polls `check` until it returns a value other than undefined, or the deadline passes. */
export async function pollUntil<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
    // A slow start is still seen within 200 ms of being done: lab up and down are mostly waits.
    intervalMs = Math.min(intervalMs * 1.5, 200);
  }
}
