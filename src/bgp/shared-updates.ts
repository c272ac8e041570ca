// UPDATEs encoded once and sent to every peer due the very same ones. A route reflector tells
// each of its n clients of every route change, and each new client of the whole table:
// encoding the UPDATEs per client made a reflector converging with n clients encode n² of
// them, which kept it from answering new sessions. Peers whose exports are alike get the same
// attributes object (AdjRibOut shares them by exportClass), so the same attributes object,
// prefixes and session context mean the same bytes, for as long as that object lives.
import type { PathAttributes } from './message.js';

interface Encoded<P> {
  prefixes: readonly P[];
  /** What else the bytes depend on (the session's 4-octet AS capability). */
  context: string;
  messages: Buffer[];
}

/**
 * Encodings kept per attributes object: enough for one route's announcement under each
 * context, and for the last few groupings of a long-lived object such as our own routes'.
 */
const KEPT = 4;

export class SharedUpdates<P> {
  private readonly announcements = new WeakMap<PathAttributes, Encoded<P>[]>();
  private readonly withdrawals: Encoded<P>[] = [];

  /** The UPDATEs announcing `prefixes` with `attrs`: encoded by `encode` the first time only. */
  announce(
    attrs: PathAttributes,
    prefixes: readonly P[],
    context: string,
    encode: () => Buffer[],
  ): Buffer[] {
    let kept = this.announcements.get(attrs);
    if (!kept) this.announcements.set(attrs, (kept = []));
    return lookup(kept, prefixes, context, encode);
  }

  /** The UPDATEs withdrawing `prefixes`: encoded by `encode` unless just encoded. */
  withdraw(prefixes: readonly P[], encode: () => Buffer[]): Buffer[] {
    return lookup(this.withdrawals, prefixes, '', encode);
  }
}

function lookup<P>(
  kept: Encoded<P>[],
  prefixes: readonly P[],
  context: string,
  encode: () => Buffer[],
): Buffer[] {
  const hit = kept.find((e) => e.context === context && samePrefixes(e.prefixes, prefixes));
  if (hit) return hit.messages;
  const messages = encode();
  // A copy: the caller's array may change after (an Adj-RIB-Out's plan is its own).
  kept.push({ prefixes: [...prefixes], context, messages });
  if (kept.length > KEPT) kept.shift();
  return messages;
}

function samePrefixes<P>(a: readonly P[], b: readonly P[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
