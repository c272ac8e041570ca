// An in-memory conntrack for the proxy's sync loop: records the flows it was told to delete.
import type { StaleFlow } from '../../src/kernel/conntrack.js';
import type { ConntrackKernel } from '../../src/proxy/kernel.js';

export class FakeConntrack implements ConntrackKernel {
  readonly deleted: StaleFlow[] = [];

  async deleteStaleFlows(flows: StaleFlow[]): Promise<void> {
    this.deleted.push(...flows);
  }
}
