// Waiting in tests for something that happens a moment later (a watch event, a session coming
// up), polled, with a deadline that names what never came.

/**
 * Polls `check` every `pollMs` until it gives a value other than undefined or false, and
 * returns that value; throws naming `what` once `timeoutMs` has passed.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false,
  timeoutMs: number,
  pollMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
