// Refuses names outside the cluster to clients outside its ranges (see recursion.ts), right
// before they would be forwarded. The answer cache asks the same guard before it serves a
// forwarded answer, so a cached one is no way around it.
import { ClientRanges } from '../client-ranges.js';
import type { ClusterIndex } from '../cluster-index.js';
import type { DnsMetrics } from '../metrics.js';
import type { Stage } from '../pipeline.js';
import { RCODES } from '../response.js';
import type { Cidr } from '../../net/index.js';

export class RecursionGuard {
  private readonly ranges: ClientRanges;

  constructor(
    index: ClusterIndex,
    extra: readonly Cidr[],
    private readonly metrics: DnsMetrics | undefined,
  ) {
    this.ranges = new ClientRanges(index, extra);
  }

  allows(client: string): boolean {
    return this.ranges.contains(client);
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
