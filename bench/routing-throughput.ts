// Pod-to-pod TCP throughput across two hosts (iperf3, 1 and 4 streams) for host-gw and vxlan,
// each beside host-to-host throughput over the same underlay measured in the same run.
// Runs alternate host and pod, ROUNDS times, and compare medians. Goals: host-gw >= 0.95, vxlan >= 0.90 of host-to-host. Anchors (Ducastel 2024,
// 40 GbE): flannel VXLAN 98 % with 8 streams, 64 % with 1.
import { execFileSync, spawn } from 'node:child_process';
import { podMTU } from '../src/routing/mtu.js';
import { sweepStaleNamespaces } from '../test/helpers/names.js';
import { startCluster } from '../test/helpers/routing-loops.js';
import { buildTopology, sh, type Topology } from '../test/helpers/routing-topology.js';

const SECONDS = 2;
/** Host and pod runs alternate this many times; the medians are compared (the machine is shared). */
const ROUNDS = 3;

function median(xs: number[]): number {
  return [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
}

/** Bits per second from `clientNs` to `ip` (iperf3 server in `serverNs`). */
async function iperf(
  serverNs: string,
  clientNs: string,
  ip: string,
  streams: number,
): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', serverNs, 'iperf3', '-s', '-1', '-B', ip], {
    stdio: 'ignore',
  });
  try {
    await new Promise((r) => setTimeout(r, 400));
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        clientNs,
        'iperf3',
        '-c',
        ip,
        '-P',
        String(streams),
        '-t',
        String(SECONDS),
        '-J',
        '--connect-timeout',
        '3000',
      ],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    return (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end
      .sum_received.bits_per_second;
  } finally {
    server.kill();
  }
}

function setPodMTU(topo: Topology, mtu: number): void {
  for (const h of topo.hosts) {
    for (const [k, pod] of h.pods.entries()) {
      sh(`ip -n ${h.ns} link set p${k} mtu ${mtu}`);
      sh(`ip -n ${pod.ns} link set eth0 mtu ${mtu}`);
    }
  }
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const topo = buildTopology([1, 1], { podMTU: 1500 });
  const lines: string[] = [];
  try {
    const [a, b] = topo.hosts as [Topology['hosts'][0], Topology['hosts'][0]];
    console.log('backend   streams   host-to-host    pod-to-pod    ratio');
    for (const backend of ['host-gw', 'vxlan']) {
      setPodMTU(topo, podMTU(backend as 'host-gw' | 'vxlan', 1500));
      const cluster = startCluster(topo, backend);
      await cluster.settle();
      await cluster.stop();
      for (const streams of [1, 4]) {
        const hosts: number[] = [];
        const pods: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          hosts.push(await iperf(b.ns, a.ns, b.ip, streams));
          pods.push(await iperf(b.pods[0]!.ns, a.pods[0]!.ns, b.pods[0]!.ip, streams));
        }
        const host = median(hosts);
        const pod = median(pods);
        const gbps = (x: number): string => (x / 1e9).toFixed(2);
        const ratio = (pod / host).toFixed(2);
        console.log(
          `${backend.padEnd(9)} ${String(streams).padStart(7)}   ${gbps(host).padStart(8)} Gb/s   ${gbps(pod).padStart(8)} Gb/s   ${ratio}`,
        );
        lines.push(
          `BENCH routing-throughput ${backend}_${streams}stream_gbps=${gbps(pod)} anchor=${gbps(host)} ratio=${ratio} goal=${backend === 'vxlan' ? '0.90' : '0.95'}`,
        );
      }
    }
    for (const l of lines) console.log(l);
  } finally {
    topo.destroy();
  }
}

await main();
