// A token bucket like the ones AWS meters each API action with: the controller takes a token
// before each call, so it runs as fast as the account allows and is not throttled at all,
// instead of being throttled and backing off.

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly burst: number,
    readonly perSecond: number,
    private readonly clock: Clock = realClock,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Resolves when a token was taken; callers are served in order. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.takeNow());
    this.queue = turn;
    return turn;
  }

  /** Takes a token if one is there, without waiting: how AWS meters (it answers, never queues). */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private async takeNow(): Promise<void> {
    this.refill();
    if (this.tokens < 1) {
      await this.clock.sleep(Math.ceil(((1 - this.tokens) * 1000) / this.perSecond));
      this.refill();
    }
    this.tokens -= 1;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
  }
}

/** AWS's published buckets for the calls podnet makes (per account and region). */
export const AWS_BUCKETS = {
  routes: { burst: 50, perSecond: 5 },
  describeRouteTables: { burst: 100, perSecond: 20 },
  modifyNetworkInterfaceAttribute: { burst: 100, perSecond: 5 },
  describeInstances: { burst: 50, perSecond: 10 },
} as const;

/**
 * A bucket one token short of AWS's: AWS meters a call when it arrives, so two calls sent a
 * refill apart may arrive closer together (one was slower on the way); the missing token
 * keeps one refill (200 ms for route calls) of that in hand, for a refill's worth of time lost.
 */
export function paceBelow(b: { burst: number; perSecond: number }): {
  burst: number;
  perSecond: number;
} {
  return { burst: b.burst - 1, perSecond: b.perSecond };
}
