// A lab's `datapath` switched live through its ClusterNetwork, and what the eBPF programs did,
// read from every agent's metrics: how the suites run their cases on the eBPF data path.
import type { ClusterNetwork, Datapath } from '../../src/api/types.js';
import { hostNetns } from '../../src/lab/plan.js';
import { agentMetric } from './agent-metrics.js';
import { podnetOk, until } from './lab.js';

/** Sets `datapath` in the lab's ClusterNetwork and waits until every agent of `nodes` runs it. */
export async function switchDatapath(lab: string, nodes: string[], to: Datapath): Promise<void> {
  const network = JSON.parse(
    podnetOk(['--lab', lab, 'get', 'clusternetwork', 'default', '-o', 'json']),
  ) as ClusterNetwork;
  network.spec.datapath = to;
  podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: JSON.stringify(network) });
  for (const node of nodes) {
    await until(`the ${to} data path on ${node}`, () =>
      agentMetric(hostNetns(lab, node), 'podnet_ebpf_datapath_active') === (to === 'ebpf' ? 1 : 0)
        ? true
        : undefined,
    );
  }
}

/** The programs' packets of `actions` (`podnet_ebpf_datapath_packets_total`) over `nodes`. */
export function datapathPackets(lab: string, nodes: string[], actions: string[]): number {
  return nodes
    .flatMap((node) =>
      actions.map((action) =>
        agentMetric(hostNetns(lab, node), 'podnet_ebpf_datapath_packets_total', { action }),
      ),
    )
    .reduce((a, b) => a + b, 0);
}
