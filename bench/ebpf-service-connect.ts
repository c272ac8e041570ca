// Connect latency pod → service on both data paths, #22's figure: a pod's blocking TCP connect
// (SYN to SYN-ACK, timed by the shared Python loop) to the last of N services (N = 100, 10,000)
// whose backend is a pod on the same host. The kernel path is the nftables proxier's DNAT (one
// verdict-map lookup); the eBPF path is bpf/datapath.c's from_pod translating the SYN from its
// service map, with to_pod giving the SYN-ACK back the ClusterIP, over the same nft rules (as
// on a host, the proxy keeps programming them). Both paths run alternately on one topology per
// N, so each round's ratio is same-run. Ends with BENCH lines.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  attachDatapath,
  datapathCounters,
  detachDatapath,
  ensureBpfFs,
  linkIndexes,
  loadDatapath,
  syncDatapathMaps,
} from '../src/kernel/bpf-datapath.js';
import { netfilterKernel } from '../src/kernel/netfilter.js';
import { hostMacFor, podMacFor } from '../src/kernel/pod-veth.js';
import { createProxier } from '../src/proxy/proxier.js';
import { desiredDatapathMaps } from '../src/routing/ebpf-maps.js';
import { sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { CLUSTER, buildTopology, type Topology } from '../test/helpers/proxy-topology.js';
import { connectServices } from './lib/bench-services.js';
import { CONNECT_TIMER } from './lib/connect-timer.js';
import { median, percentile } from './lib/stats.js';

const SIZES = [100, 10000];
const ROUNDS = 5;
const CONNECTS = 300;
const PATHS = ['kernel', 'ebpf'] as const;

/** The topology's veths get the MACs the agent gives pod links, which the redirects write. */
function podLinkMacs(topo: Topology, names: string[]): { hostVeth: string; ip: string }[] {
  const host = topo.hosts[0];
  return names.map((name) => {
    const pod = topo.pods[name]!;
    const hostVeth = `v${name}`;
    execFileSync('ip', ['-n', pod.ns, 'link', 'set', 'eth0', 'address', podMacFor(pod.ip)]);
    execFileSync('ip', ['-n', host, 'link', 'set', hostVeth, 'address', hostMacFor(hostVeth)]);
    return { hostVeth, ip: pod.ip };
  });
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  await ensureBpfFs();
  mkdirSync('/run/podnet/bpf/bench', { recursive: true });
  const pins = join('/run/podnet/bpf/bench', uniqueName('ebpfsvc'));
  /** p50 per path per round, by N. */
  const p50s: Record<number, Record<(typeof PATHS)[number], number[]>> = {};
  try {
    await loadDatapath(pins);
    for (const n of SIZES) {
      const topo = buildTopology([
        { name: 'c1', host: 0, n: 2 },
        { name: 'b1', host: 0, n: 3 },
      ]);
      try {
        await topo.serve(['b1'], 8080);
        const host = topo.hosts[0];
        const pods = podLinkMacs(topo, ['c1', 'b1']);
        const rules = connectServices(n, topo.pods.b1!.ip);
        const proxier = createProxier(
          'nftables',
          { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' },
          netfilterKernel(host),
        );
        await proxier.sync(rules, true);
        await syncDatapathMaps(
          pins,
          desiredDatapathMaps({
            pods,
            ifindexes: await linkIndexes(host),
            peers: [],
            policyPods: [],
            backends: rules.flatMap((r) => r.endpoints.map((e) => ({ ...e, protocol: 'TCP' }))),
            services: rules,
          }),
        );
        const target = rules[n - 1]!.clusterIP;
        const time = (count: number): number[] =>
          JSON.parse(
            topo.exec(topo.pods.c1!.ns, [
              'python3',
              '-c',
              CONNECT_TIMER,
              target,
              '80',
              String(count),
            ]),
          ) as number[];
        p50s[n] = { kernel: [], ebpf: [] };
        for (let round = 0; round < ROUNDS; round++) {
          for (const path of PATHS) {
            if (path === 'ebpf')
              await attachDatapath(pins, { pod: ['vc1', 'vb1'], underlay: [] }, host);
            else await detachDatapath(pins, host);
            const dnat = (await datapathCounters(pins)).get('service_dnat') ?? 0;
            time(20); // warm-up
            const us = time(CONNECTS).sort((a, b) => a - b);
            const translated = ((await datapathCounters(pins)).get('service_dnat') ?? 0) - dnat;
            // Each path must be the one measured: the programs translate on eBPF only.
            if ((path === 'ebpf') !== translated >= CONNECTS) {
              throw new Error(`${path} round: the programs translated ${translated} packets`);
            }
            p50s[n][path].push(percentile(us, 50));
            console.log(
              `${String(n).padStart(6)} services  round ${round + 1}  ${path.padEnd(6)} p50 ${percentile(us, 50).toFixed(0).padStart(5)} us  p99 ${percentile(us, 99).toFixed(0).padStart(5)} us`,
            );
          }
        }
        await detachDatapath(pins, host);
      } finally {
        topo.destroy();
      }
    }
  } finally {
    rmSync(pins, { recursive: true, force: true });
  }
  for (const n of SIZES) {
    const r = p50s[n]!;
    const ratios = r.ebpf.map((e, i) => e / r.kernel[i]!).sort((a, b) => a - b);
    console.log(
      `BENCH ebpf-service-connect services_${n} ebpf_p50_us=${median(r.ebpf).toFixed(0)} anchor=${median(r.kernel).toFixed(0)} ratio=${median(ratios).toFixed(2)} spread=${ratios[0]!.toFixed(2)}-${ratios.at(-1)!.toFixed(2)} goal=1.00`,
    );
  }
  const flat = (path: (typeof PATHS)[number]): string =>
    (median(p50s[SIZES.at(-1)!]![path]) / median(p50s[SIZES[0]!]![path])).toFixed(2);
  console.log(
    `BENCH ebpf-service-connect flatness ebpf_10000_over_100=${flat('ebpf')} anchor=${flat('kernel')}`,
  );
}

await main();
