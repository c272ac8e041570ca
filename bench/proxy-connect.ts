// First-packet cost: TCP connect latency (timed by a small Python loop) from a host namespace to a service IP (DNAT in the
// OUTPUT hook) with a backend in a pod namespace, the service being the last of N (worst case
// for a rule list), N = 100 / 1,000 / 10,000, both modes in one run. nftables should be flat
// (one map lookup); iptables grows with N (a rule per service). Ends with BENCH lines.
import { netfilterKernel } from '../src/kernel/netfilter.js';
import { createProxier } from '../src/proxy/proxier.js';
import type { ProxyMode } from '../src/api/types.js';
import { sweepStaleNamespaces } from '../test/helpers/names.js';
import { CLUSTER, buildTopology } from '../test/helpers/proxy-topology.js';
import { connectServices } from './lib/bench-services.js';
import { CONNECT_TIMER } from './lib/connect-timer.js';
import { percentile } from './lib/stats.js';

const SIZES = [100, 1000, 10000];
const CONNECTS = 300;

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const results: Record<string, Record<number, { p50: number; p99: number }>> = {};
  for (const mode of ['nftables', 'iptables'] as ProxyMode[]) {
    results[mode] = {};
    for (const n of SIZES) {
      const topo = buildTopology([{ name: 'b1', host: 0, n: 3 }]);
      try {
        await topo.serve(['b1'], 8080);
        const host = topo.hosts[0];
        const rules = connectServices(n, topo.pods.b1!.ip);
        const proxier = createProxier(
          mode,
          { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' },
          netfilterKernel(host),
        );
        await proxier.sync(rules, true);
        const target = rules[n - 1]!.clusterIP;
        const time = (count: number): number[] =>
          JSON.parse(
            topo.exec(host, ['python3', '-c', CONNECT_TIMER, target, '80', String(count)]),
          ) as number[];
        time(20); // warm-up
        const us = time(CONNECTS).sort((a, b) => a - b);
        results[mode][n] = { p50: percentile(us, 50), p99: percentile(us, 99) };
        console.log(
          `${mode.padEnd(9)} ${String(n).padStart(6)} services  p50 ${results[mode][n].p50.toFixed(0).padStart(5)} us  p99 ${results[mode][n].p99.toFixed(0).padStart(5)} us`,
        );
      } finally {
        topo.destroy();
      }
    }
  }
  for (const mode of ['nftables', 'iptables']) {
    const r = results[mode]!;
    const fields = SIZES.map(
      (n) => `p50_${n}_us=${r[n]!.p50.toFixed(0)} p99_${n}_us=${r[n]!.p99.toFixed(0)}`,
    );
    console.log(
      `BENCH proxy-connect-${mode} ${fields.join(' ')} anchor=${r[100]!.p50.toFixed(0)} ratio=${(r[10000]!.p50 / r[100]!.p50).toFixed(2)}`,
    );
  }
}

await main();
