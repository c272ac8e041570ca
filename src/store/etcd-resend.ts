// When a write that failed goes to etcd again. A put without a condition may be sent again
// after the connection carrying it dropped: if the first one was applied, the repeat only
// writes the same value again. A compare-and-swap is never sent again: a first one that was
// applied would make the repeat report a conflict, so its caller re-reads instead.

/** etcd writes as the store sends them. */
export type EtcdWrite = 'put' | 'compare-and-swap';

/** Attempts of one unconditional put: one per member of a 3-member cluster. */
export const PUT_ATTEMPTS = 3;
/** Pause before the second attempt, doubled for each one after it (an election takes ~1 s). */
const FIRST_PAUSE_MS = 50;

/**
 * gRPC's UNAVAILABLE: the connection reset or dropped under the call, no member reachable, or
 * a member without a leader. Deadlines (the call's time is spent) and etcd's own refusals
 * (a lease not found, a request too large) are final.
 */
function unavailable(errorText: string): boolean {
  return /^(\w+: )?14 UNAVAILABLE:/.test(errorText) || /\bECONNRESET\b/.test(errorText);
}

/**
 * How long to wait before sending `write` again after attempt number `attempt` (from 1) failed
 * with `errorText`; undefined when it is not sent again.
 */
export function resendAfterMs(
  write: EtcdWrite,
  errorText: string,
  attempt: number,
): number | undefined {
  if (write !== 'put' || attempt >= PUT_ATTEMPTS || !unavailable(errorText)) return undefined;
  return FIRST_PAUSE_MS * 2 ** (attempt - 1);
}
