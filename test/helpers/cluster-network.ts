// A lab's ClusterNetwork changed live, as an operator changes it with `podnet apply`, and the
// waits that tell when every host has followed: how one lab serves a suite's cases under several
// settings (proxy mode, backend, data path) instead of a lab brought up for each.
import { spawnSync } from 'node:child_process';
import type { ClusterNetwork, Datapath } from '../../src/api/types.js';
import { hostNetns } from '../../src/lab/plan.js';
import { agentMetric } from './agent-metrics.js';
import { podnetOk, until } from './lab.js';

/** Applies the lab's ClusterNetwork with `spec` changed as given. */
export function patchClusterNetwork(lab: string, spec: Partial<ClusterNetwork['spec']>): void {
  const network = JSON.parse(
    podnetOk(['--lab', lab, 'get', 'clusternetwork', 'default', '-o', 'json']),
  ) as ClusterNetwork;
  podnetOk(['--lab', lab, 'apply', '-f', '-'], {
    input: JSON.stringify({
      ...network,
      metadata: { name: 'default' },
      spec: { ...network.spec, ...spec },
    }),
  });
}

/** `proxyMode: nftables`, done once every host of `nodes` has no iptables service rules left. */
export async function moveToNftables(lab: string, nodes: string[]): Promise<void> {
  patchClusterNetwork(lab, { proxyMode: 'nftables' });
  // The move is made before broken: the nftables rules go in, then the iptables ones out.
  for (const node of nodes) {
    await until(`${node} to move its service rules to nftables`, () => {
      const inNs = (argv: string[]) =>
        spawnSync('ip', ['netns', 'exec', hostNetns(lab, node), ...argv], { encoding: 'utf8' });
      const nft = inNs(['nft', 'list', 'table', 'ip', 'podnet']);
      const nat = inNs(['iptables-save', '-t', 'nat']);
      return nft.status === 0 && nat.status === 0 && !nat.stdout.includes('PODNET-')
        ? true
        : undefined;
    });
  }
}

/** Sets `datapath` and waits until every agent of `nodes` runs it. */
export async function switchDatapath(lab: string, nodes: string[], to: Datapath): Promise<void> {
  patchClusterNetwork(lab, { datapath: to });
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
