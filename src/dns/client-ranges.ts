// Whether a client's address lies in the cluster's own ranges (its pods, services and nodes, as
// the index knows them) or in ranges an operator adds. Asked for every query, so verdicts are
// remembered per address until the ranges change.
import type { ClusterIndex } from './cluster-index.js';
import { mayRecurse, recursionRanges } from './recursion.js';
import type { Cidr } from '../net/index.js';

/** Verdicts remembered per client address before the memo starts over. */
const MAX_VERDICTS = 10_000;

export class ClientRanges {
  private ranges: Cidr[] = [];
  private version = -1;
  /** client address → inside; cleared whenever the ranges change. */
  private readonly verdicts = new Map<string, boolean>();

  constructor(
    private readonly index: ClusterIndex,
    private readonly extra: readonly Cidr[],
  ) {}

  contains(client: string): boolean {
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
}
