// Response rate limiting, as BIND's RRL does it: identical responses (same question and rcode)
// to one client network get a token bucket each. Over the rate, a response is dropped,
// except every `slip`-th, which goes out truncated: a real client behind a spoofed flood retries
// over TCP (which cannot be spoofed) and is answered, while the flood's victim gets nothing
// bigger than the query that caused it.
import { cidrOf, type IP } from '../net/index.js';

export type RateDecision = 'send' | 'slip' | 'drop';

export interface RateLimitOptions {
  /** Identical responses a second each client network may get; 0 turns limiting off. */
  perSecond: number;
  /** Every slip-th limited response goes out truncated; 0 drops them all. */
  slip: number;
  /** Buckets kept at most (the oldest are forgotten first). */
  maxBuckets?: number;
}

interface Bucket {
  tokens: number;
  /** When the tokens were last topped up, in ms. */
  at: number;
  /** Responses limited since the bucket last had a token, for the slip count. */
  limited: number;
}

/** Clients are grouped by network, as a spoofed flood varies its host bits: /24 and /56. */
export function clientNetwork(ip: IP): string {
  const net = cidrOf(ip, ip.family === 4 ? 24 : 56);
  return `${net.family}:${net.base.toString(16)}`;
}

export class ResponseRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxBuckets: number;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.maxBuckets = opts.maxBuckets ?? 100_000;
  }

  get enabled(): boolean {
    return this.opts.perSecond > 0;
  }

  /** What to do with one response of `rcode` for `question` to a client on `network`. */
  decide(network: string, question: string, rcode: number): RateDecision {
    if (!this.enabled) return 'send';
    const key = `${network}|${question}|${rcode}`;
    const now = this.now();
    const rate = this.opts.perSecond;
    let bucket = this.buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) * rate) / 1000);
      bucket.at = now;
    } else {
      // Full: the oldest bucket goes (Map order is insertion order). A flood of distinct
      // questions can thus refill a bucket early, by one burst at most.
      if (this.buckets.size >= this.maxBuckets) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = { tokens: rate, at: now, limited: 0 };
      this.buckets.set(key, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.limited = 0;
      return 'send';
    }
    bucket.limited++;
    return this.opts.slip > 0 && bucket.limited % this.opts.slip === 0 ? 'slip' : 'drop';
  }
}
