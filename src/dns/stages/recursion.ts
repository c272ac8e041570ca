// Refuses names outside the cluster to clients outside its ranges (see recursion.ts), right
// before they would be forwarded. The answer cache asks the same guard before it serves a
// forwarded answer, so a cached one is no way around it.
import type { ClusterIndex } from '../cluster-index.js';
import type { DnsMetrics } from '../metrics.js';
import type { Stage } from '../pipeline.js';
import { mayRecurse, recursionRanges } from '../recursion.js';
import { RCODES } from '../response.js';
import type { Cidr } from '../../net/index.js';

/** Verdicts remembered per client address before the memo starts over. */
const MAX_VERDICTS = 10_000;

export class RecursionGuard {
  private ranges: Cidr[] = [];
  private version = -1;
  /** client address → may recurse; cleared whenever the ranges change. */
  private readonly verdicts = new Map<string, boolean>();

  constructor(
    private readonly index: ClusterIndex,
    private readonly extra: readonly Cidr[],
    private readonly metrics: DnsMetrics | undefined,
  ) {}

  allows(client: string): boolean {
    if (this.version !== this.index.rangesVersion) {
      this.version = this.index.rangesVersion;
      this.ranges = recursionRanges(this.index.network, this.index.nodeAddresses(), this.extra);
      this.verdicts.clear();
    }
    let verdict = this.verdicts.get(client);
    if (verdict === undefined) {
      verdict = mayRecurse(this.ranges, client);
      if (this.verdicts.size >= MAX_VERDICTS) this.verdicts.clear();
      this.verdicts.set(client, verdict);
    }
    return verdict;
  }

  readonly stage: Stage = (req, next) => {
    if (this.allows(req.client)) {
      next();
      return;
    }
    this.metrics?.refused();
    req.fail(RCODES.REFUSED, 'refused');
  };
}
