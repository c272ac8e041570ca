// Pod-to-pod TCP throughput (iperf3, 1 stream) over WireGuard beside VXLAN and host-to-host,
// all in the same run: one lab per backend (two hosts in two zones, one pod on each), runs
// alternating host and pod ROUNDS times, medians with their spread (min-max). CPU per Gbit/s
// is the whole machine's busy time during a run (wireguard-go encrypts in its own process, so
// iperf3's own figure would leave it out) over the throughput. This kernel has no WireGuard:
// the figure is wireguard-go's, and userspace WireGuard is far slower than the kernel's.
// Handshake-to-first-packet: with both hosts' sessions reset (each peer removed and set again,
// as for a host that just joined), the round trip of the first ping, which waits for the
// handshake, beside that of the next one.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { withSocketDir } from '../src/kernel/wireguard.js';
import { parseWireguardDump } from '../src/kernel/wireguard-dump.js';
import { podNetns, wireguardSocketDir } from '../src/lab/plan.js';
import type { LabState } from '../src/lab/state.js';
import type { Pod } from '../src/api/types.js';
import {
  echoPodYaml,
  labDown,
  labUp,
  podnet,
  podnetOk,
  sweepLeftovers,
  testLabName,
} from '../test/helpers/lab.js';
import { median, range } from './lib/stats.js';

const SECONDS = 3;
/** Host and pod runs alternate this many times (the machine is shared: medians and spread). */
const ROUNDS = 3;
const HANDSHAKES = 5;

interface Run {
  gbps: number;
  /** Machine CPU cores busy during the run. */
  cores: number;
}

/** Clock ticks per second of /proc/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** Busy clock ticks of the whole machine so far, all CPUs (/proc/stat: all but idle and iowait). */
function busyTicks(): number {
  const fields = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return fields.reduce((a, b) => a + b, 0) - fields[3]! - fields[4]!;
}

function ns(argv: string[], netns: string): string[] {
  return ['ip', 'netns', 'exec', netns, ...argv];
}

/** iperf3 from `clientNs` to `ip` (server in `serverNs`): throughput and machine CPU. */
async function iperf(serverNs: string, clientNs: string, ip: string): Promise<Run> {
  const [cmd, ...args] = ns(['iperf3', '-s', '-1', '-B', ip], serverNs);
  const server = spawn(cmd!, args, { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 400));
    const before = busyTicks();
    const started = performance.now();
    const [c, ...cargs] = ns(
      ['iperf3', '-c', ip, '-t', String(SECONDS), '-J', '--connect-timeout', '3000'],
      clientNs,
    );
    const out = execFileSync(c!, cargs, { encoding: 'utf8', maxBuffer: 64 << 20 });
    const seconds = (performance.now() - started) / 1000;
    const cores = (busyTicks() - before) / USER_HZ / seconds;
    const bps = (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end
      .sum_received.bits_per_second;
    return { gbps: bps / 1e9, cores };
  } finally {
    server.kill();
  }
}

interface BenchLab {
  name: string;
  lab: LabState;
  /** Pod network namespaces and IPs, on node-1 and node-2 (different zones). */
  pods: { ns: string; ip: string }[];
}

async function benchLab(backend: string): Promise<BenchLab> {
  const name = testLabName();
  const lab = labUp(name, ['--backend', backend, '--nodes', '2', '--zones', '2']);
  podnetOk(['--lab', name, 'apply', '-f', '-'], {
    input: [echoPodYaml('bench-1', 'node-1'), echoPodYaml('bench-2', 'node-2')].join('---\n'),
  });
  const pods: { ns: string; ip: string }[] = [];
  for (const pod of ['bench-1', 'bench-2']) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = podnet(['--lab', name, 'get', 'pod', pod, '-o', 'json']);
      const p = r.status === 0 ? (JSON.parse(r.stdout) as Pod) : undefined;
      if (p?.status?.phase === 'Running' && p.status.podIP) {
        const node = p.spec.nodeName!;
        pods.push({ ns: podNetns(name, node, 'default', pod), ip: p.status.podIP });
        break;
      }
      if (Date.now() > deadline) throw new Error(`pod ${pod} did not run`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { name, lab, pods };
}

/** Round trip of one ping from `from` to `ip`, in ms, or undefined if it got no answer. */
function pingMs(from: string, ip: string): number | undefined {
  try {
    const out = execFileSync('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '3', ip], {
      encoding: 'utf8',
    });
    const m = /time=([\d.]+) ms/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Removes every peer of node's pn-wg and sets it again as it was: its sessions are gone. */
function resetSessions(b: BenchLab, node: string): void {
  const host = b.lab.hosts.find((h) => h.name === node)!;
  const wg = (args: string[]): string =>
    execFileSync(
      'ip',
      [
        'netns',
        'exec',
        host.netns,
        ...withSocketDir(['wg', ...args], wireguardSocketDir(host.stateDir)),
      ],
      { encoding: 'utf8' },
    );
  const dump = parseWireguardDump(wg(['show', 'pn-wg', 'dump']));
  const args: string[] = [];
  for (const p of dump.peers) args.push('peer', p.publicKey, 'remove');
  for (const p of dump.peers) {
    args.push('peer', p.publicKey, 'endpoint', p.endpoint, 'allowed-ips', p.allowedIPs.join(','));
  }
  wg(['set', 'pn-wg', ...args]);
}

async function main(): Promise<void> {
  sweepLeftovers();
  const labs: BenchLab[] = [];
  try {
    const wg = await benchLab('wireguard');
    labs.push(wg);
    const vx = await benchLab('vxlan');
    labs.push(vx);
    const hostA = wg.lab.hosts[0]!;
    const hostB = wg.lab.hosts[1]!;
    const runs = { host: [] as Run[], wireguard: [] as Run[], vxlan: [] as Run[] };
    for (let r = 0; r < ROUNDS; r++) {
      runs.host.push(await iperf(hostB.netns, hostA.netns, hostB.ip));
      runs.wireguard.push(await iperf(wg.pods[1]!.ns, wg.pods[0]!.ns, wg.pods[1]!.ip));
      runs.vxlan.push(await iperf(vx.pods[1]!.ns, vx.pods[0]!.ns, vx.pods[1]!.ip));
    }
    console.log('path            Gbit/s (median, min-max)   CPU cores   CPU cores per Gbit/s');
    for (const [what, rs] of Object.entries(runs)) {
      const gbps = rs.map((x) => x.gbps);
      const perGbps = rs.map((x) => x.cores / x.gbps);
      console.log(
        `${what.padEnd(15)} ${median(gbps).toFixed(2).padStart(6)} (${range(gbps)})${''.padEnd(10)}` +
          `${median(rs.map((x) => x.cores))
            .toFixed(2)
            .padStart(5)}       ${median(perGbps).toFixed(2)}`,
      );
    }

    const first: number[] = [];
    const next: number[] = [];
    for (let i = 0; i < HANDSHAKES; i++) {
      resetSessions(wg, 'node-1');
      resetSessions(wg, 'node-2');
      const a = pingMs(wg.pods[0]!.ns, wg.pods[1]!.ip);
      const b = pingMs(wg.pods[0]!.ns, wg.pods[1]!.ip);
      if (a !== undefined && b !== undefined) {
        first.push(a);
        next.push(b);
      }
    }
    if (first.length === 0) throw new Error('no ping answered after a session reset');
    console.log(
      `handshake-to-first-packet: first ping ${median(first).toFixed(2)} ms (${range(first)}), next ${median(next).toFixed(2)} ms (${range(next)}), ${first.length} resets`,
    );

    const m = (rs: Run[]): number => median(rs.map((x) => x.gbps));
    const cpu = (rs: Run[]): number => median(rs.map((x) => x.cores / x.gbps));
    console.log(
      `BENCH wireguard pod_gbps=${m(runs.wireguard).toFixed(2)} spread=${range(runs.wireguard.map((x) => x.gbps))} anchor=${m(runs.vxlan).toFixed(2)} ratio=${(m(runs.wireguard) / m(runs.vxlan)).toFixed(2)}`,
    );
    console.log(
      `BENCH wireguard host_ratio=${(m(runs.wireguard) / m(runs.host)).toFixed(2)} host_gbps=${m(runs.host).toFixed(2)} vxlan_host_ratio=${(m(runs.vxlan) / m(runs.host)).toFixed(2)}`,
    );
    console.log(
      `BENCH wireguard cpu_cores_per_gbps=${cpu(runs.wireguard).toFixed(2)} anchor=${cpu(runs.vxlan).toFixed(2)} ratio=${(cpu(runs.wireguard) / cpu(runs.vxlan)).toFixed(2)}`,
    );
    console.log(
      `BENCH wireguard handshake_first_packet_ms=${median(first).toFixed(2)} anchor=${median(next).toFixed(2)} ratio=${(median(first) / median(next)).toFixed(2)}`,
    );
    // The headline figure last: WireGuard pod-to-pod over VXLAN pod-to-pod.
    console.log(
      `BENCH wireguard gbps=${m(runs.wireguard).toFixed(2)} anchor=${m(runs.vxlan).toFixed(2)} ratio=${(m(runs.wireguard) / m(runs.vxlan)).toFixed(2)}`,
    );
  } finally {
    for (const b of labs) labDown(b.name);
  }
}

await main();
