// dnsperf against podnet's DNS server and against dnsmasq serving the same A records from a
// hosts file: same machine, same run, inside a network namespace of our own (its loopback).
// Figures: peak QPS for cluster names (podnet with 1 and 2 worker processes), QPS for forwarded
// names answered from podnet's cache (dnsmasq is the upstream and the anchor), and p99
// latency at half the peak rate. Beside them, IPv6: the same queries (each name's A and AAAA)
// asked over IPv6 (::1) and over IPv4 (127.0.0.1) of one podnet server listening on both, in
// alternating runs of one round; each round's IPv6 ÷ IPv4 is kept (goal >= 0.95). Only the
// transport differs: a profile shows podnet's per-query code the same on both, the kernel's
// send the larger part of it. The kernel's (and dnsperf's) own IPv6 cost is the floor: dnsmasq,
// also on both, asked the same in the same rounds; its extra time per query over IPv6, added
// to podnet's IPv4 time, gives the ratio podnet would have if IPv6 cost its own code nothing.
// Beside the QPS, podnet's CPU per query over each (its process's CPU time over the queries
// answered): load from elsewhere on the machine takes time from a run, and this moves least.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { floorRatio, median, range } from './lib/stats.js';

const SERVICES = 1000;
const SECONDS = Number(process.env.DNS_BENCH_SECONDS ?? 5);
const ROUNDS = 3;
const DNSMASQ_PORT = 5301;
const PODNET_PORT = 5300;
const PODNET2_PORT = 5302;
const GOAL_IPV6_PER_IPV4 = 0.95;
/** /proc's unit of CPU time (USER_HZ), 100 on every Linux architecture podnet runs on. */
const CLOCK_TICKS = 100;

const dir = mkdtempSync(join(tmpdir(), 'podnet-dnsperf-'));
const ns = uniqueName('dnsperf');
const children: ChildProcess[] = [];

function inNs(argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

function writeInputs(): void {
  const objects: unknown[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }];
  const cluster: string[] = [];
  const both: string[] = [];
  const external: string[] = [];
  const hosts: string[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const ip = `10.96.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`;
    const ip6 = `fd00:10:96::${(i + 1).toString(16)}`;
    const name = `svc-${i}.bench.svc.cluster.local`;
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: 'bench' },
      spec: {
        clusterIP: ip,
        clusterIPs: [ip, ip6],
        ipFamilies: ['IPv4', 'IPv6'],
        ipFamilyPolicy: 'RequireDualStack',
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
    });
    cluster.push(`${name} A`);
    both.push(`${name} A`, `${name} AAAA`);
    hosts.push(`${ip} ${name}`, `${ip6} ${name}`);
    const ext = `host-${i}.example.test`;
    external.push(`${ext} A`);
    hosts.push(`192.0.${2 + Math.floor(i / 250)}.${(i % 250) + 1} ${ext}`);
  }
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(objects));
  writeFileSync(join(dir, 'cluster.txt'), `${cluster.join('\n')}\n`);
  writeFileSync(join(dir, 'cluster-both.txt'), `${both.join('\n')}\n`);
  writeFileSync(join(dir, 'external.txt'), `${external.join('\n')}\n`);
  writeFileSync(join(dir, 'hosts'), `${hosts.join('\n')}\n`);
}

function start(argv: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(argv[0]!, argv.slice(1), {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  return child;
}

async function waitForAnswer(port: number, name: string): Promise<void> {
  // Generous: on a loaded machine a server takes a while to start and index the services.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const out = execFileSync(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'dig',
          '@127.0.0.1',
          '-p',
          String(port),
          name,
          '+short',
          '+tries=1',
          '+time=1',
        ],
        { encoding: 'utf8' },
      );
      if (out.trim() !== '') return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`nothing answers on port ${port}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface PerfResult {
  qps: number;
  lost: number;
  completed: number;
  latencies?: number[];
}

function dnsperf(
  port: number,
  file: string,
  extra: string[] = [],
  server = '127.0.0.1',
): PerfResult {
  const out = execFileSync(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'dnsperf',
      '-s',
      server,
      '-p',
      String(port),
      '-d',
      join(dir, file),
      ...extra,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 30 },
  );
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const latencies = [...out.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]));
  return { qps, lost, completed, latencies };
}

function peakRun(port: number, file: string, server?: string): PerfResult {
  return dnsperf(port, file, ['-c', '4', '-q', '500', '-l', String(SECONDS)], server);
}

function peak(port: number, file: string, server?: string): number {
  return peakRun(port, file, server).qps;
}

/** CPU seconds (user + system) a process has used: /proc/PID/stat's utime and stime. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * A peak run against `server`, with the CPU µs the process `pid` spent per answered query: the
 * figure that load from elsewhere on the machine moves least (it takes time, not CPU, away).
 */
function peakWithCpu(
  pid: number,
  port: number,
  file: string,
  server?: string,
): { qps: number; cpuUs: number } {
  const before = cpuSeconds(pid);
  const r = peakRun(port, file, server);
  return { qps: r.qps, cpuUs: ((cpuSeconds(pid) - before) * 1e6) / r.completed };
}

function p99At(port: number, file: string, qps: number): number {
  const r = dnsperf(port, file, [
    '-c',
    '4',
    '-Q',
    String(Math.round(qps)),
    '-l',
    String(SECONDS),
    '-v',
  ]);
  const sorted = (r.latencies ?? []).sort((a, b) => a - b);
  return (sorted[Math.floor(sorted.length * 0.99)] ?? NaN) * 1000;
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  writeInputs();
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  start(
    inNs([
      'dnsmasq',
      '--keep-in-foreground',
      '--no-resolv',
      '--no-hosts',
      `--addn-hosts=${join(dir, 'hosts')}`,
      `--port=${DNSMASQ_PORT}`,
      '--listen-address=127.0.0.1,::1',
      '--bind-interfaces',
      '--cache-size=10000',
      '--local-ttl=300',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--user=root',
    ]),
  );
  const serve = new URL('../test/helpers/dns-serve.js', import.meta.url).pathname;
  const upstream = `127.0.0.1:${DNSMASQ_PORT}`;
  // `ip netns exec` execs the command: the child's pid is the server's, for its CPU time.
  const podnet = start(
    inNs([process.execPath, serve, join(dir, 'objects.json'), String(PODNET_PORT), '1', upstream]),
    { DNS_LISTEN: '0.0.0.0,::' },
  );
  start(
    inNs([process.execPath, serve, join(dir, 'objects.json'), String(PODNET2_PORT), '2', upstream]),
  );
  for (const port of [DNSMASQ_PORT, PODNET_PORT, PODNET2_PORT]) {
    await waitForAnswer(port, 'svc-1.bench.svc.cluster.local');
  }

  // Cluster names: alternate the servers so that load from elsewhere hits all of them alike.
  const runs = { dnsmasq: [] as number[], podnet1: [] as number[], podnet2: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.dnsmasq.push(peak(DNSMASQ_PORT, 'cluster.txt'));
    runs.podnet1.push(peak(PODNET_PORT, 'cluster.txt'));
    runs.podnet2.push(peak(PODNET2_PORT, 'cluster.txt'));
  }
  const anchor = median(runs.dnsmasq);
  const one = median(runs.podnet1);
  const two = median(runs.podnet2);

  // IPv6 beside IPv4: the same queries over ::1 and over 127.0.0.1, one server, alternating
  // which goes first; dnsmasq the same way in the same round, for the kernel's floor.
  const v6 = { podnet4: [] as number[], podnet6: [] as number[] };
  const cpu = { podnet4: [] as number[], podnet6: [] as number[] };
  const podnetRun = (family: 'podnet4' | 'podnet6'): void => {
    const server = family === 'podnet6' ? '::1' : '127.0.0.1';
    const r = peakWithCpu(podnet.pid!, PODNET_PORT, 'cluster-both.txt', server);
    v6[family].push(r.qps);
    cpu[family].push(r.cpuUs);
  };
  const floor = { dnsmasq4: [] as number[], dnsmasq6: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const runs6: (() => void)[] = [
      () => podnetRun('podnet4'),
      () => podnetRun('podnet6'),
      () => void floor.dnsmasq4.push(peak(DNSMASQ_PORT, 'cluster-both.txt')),
      () => void floor.dnsmasq6.push(peak(DNSMASQ_PORT, 'cluster-both.txt', '::1')),
    ];
    for (const run of round % 2 === 0 ? runs6 : runs6.reverse()) run();
  }
  const perRound = v6.podnet6.map((q6, r) => q6 / v6.podnet4[r]!);
  const ratio6 = median(perRound);
  const floorPerRound = v6.podnet4.map((q4, r) =>
    floorRatio(q4, floor.dnsmasq4[r]!, floor.dnsmasq6[r]!),
  );
  const dnsmasqPerRound = floor.dnsmasq6.map((q6, r) => q6 / floor.dnsmasq4[r]!);
  // CPU per query as a throughput ratio: IPv4's µs ÷ IPv6's, 1 when IPv6 costs no more.
  const cpuPerRound = cpu.podnet6.map((us6, r) => cpu.podnet4[r]! / us6);

  // Forwarded names: one pass fills podnet's cache, then every answer is a cache hit.
  dnsperf(PODNET_PORT, 'external.txt', ['-n', '1', '-c', '1', '-q', '20']);
  const fwdAnchor = peak(DNSMASQ_PORT, 'external.txt');
  const fwd = peak(PODNET_PORT, 'external.txt');

  // Latency at half of each server's own peak rate.
  const best = Math.max(one, two);
  const p99One = p99At(PODNET_PORT, 'cluster.txt', one / 2);
  const p99Two = p99At(PODNET2_PORT, 'cluster.txt', two / 2);
  const p99Anchor = p99At(DNSMASQ_PORT, 'cluster.txt', anchor / 2);
  const p99 = two > one ? p99Two : p99One;

  const fmt = (n: number): string => n.toFixed(0);
  console.log('server                      QPS per round (cluster names, 1,000 services)');
  console.log(`dnsmasq (hosts file)        ${runs.dnsmasq.map(fmt).join('  ')}`);
  console.log(`podnet dns, 1 process       ${runs.podnet1.map(fmt).join('  ')}`);
  console.log(`podnet dns, 2 workers       ${runs.podnet2.map(fmt).join('  ')}`);
  console.log("                            QPS per round (each name's A and AAAA)");
  console.log(`podnet dns over IPv6        ${v6.podnet6.map(fmt).join('  ')}`);
  console.log(`podnet dns over IPv4        ${v6.podnet4.map(fmt).join('  ')}`);
  console.log(`podnet CPU µs/query, IPv6   ${cpu.podnet6.map((us) => us.toFixed(1)).join('  ')}`);
  console.log(`podnet CPU µs/query, IPv4   ${cpu.podnet4.map((us) => us.toFixed(1)).join('  ')}`);
  console.log(`dnsmasq over IPv6           ${floor.dnsmasq6.map(fmt).join('  ')}`);
  console.log(`dnsmasq over IPv4           ${floor.dnsmasq4.map(fmt).join('  ')}`);
  console.log(
    `forwarded names, cache hits: podnet ${fmt(fwd)} QPS, dnsmasq itself ${fmt(fwdAnchor)} QPS`,
  );
  console.log(
    `p99 at half peak: podnet 1 process ${p99One.toFixed(3)} ms (${fmt(one / 2)} QPS), ` +
      `2 workers ${p99Two.toFixed(3)} ms (${fmt(two / 2)} QPS), ` +
      `dnsmasq ${p99Anchor.toFixed(3)} ms (${fmt(anchor / 2)} QPS)`,
  );
  console.log(
    `BENCH dns-perf qps=${fmt(best)} anchor=${fmt(anchor)} ratio=${(best / anchor).toFixed(2)}`,
  );
  console.log(
    `BENCH dns-perf-1proc qps=${fmt(one)} anchor=${fmt(anchor)} ratio=${(one / anchor).toFixed(2)}`,
  );
  console.log(
    `BENCH dns-perf-2workers qps=${fmt(two)} anchor=${fmt(anchor)} ratio=${(two / anchor).toFixed(2)}`,
  );
  console.log(
    `BENCH dns-perf-forward-cached qps=${fmt(fwd)} anchor=${fmt(fwdAnchor)} ratio=${(fwd / fwdAnchor).toFixed(2)}`,
  );
  console.log(
    `BENCH dns-perf-p99-half-peak p99_ms=${p99.toFixed(3)} anchor=${p99Anchor.toFixed(3)} ratio=${(p99 / p99Anchor).toFixed(2)}`,
  );
  console.log(
    `BENCH dns-perf-ipv6 qps=${fmt(median(v6.podnet6))} anchor=${fmt(median(v6.podnet4))} ratio=${ratio6.toFixed(2)} spread=${range(perRound)} goal=${GOAL_IPV6_PER_IPV4.toFixed(2)} floor=${median(floorPerRound).toFixed(2)} floor_spread=${range(floorPerRound)} dnsmasq_ratio=${median(dnsmasqPerRound).toFixed(2)} anchor_is=podnet_ipv4_same_queries`,
  );
  console.log(
    `BENCH dns-perf-ipv6-cpu cpu_us_per_query=${median(cpu.podnet6).toFixed(1)} anchor=${median(cpu.podnet4).toFixed(1)} ratio=${median(cpuPerRound).toFixed(2)} spread=${range(cpuPerRound)} goal=${GOAL_IPV6_PER_IPV4.toFixed(2)} ratio_is=ipv4_cpu_per_ipv6_cpu`,
  );
  console.log(
    `BENCH dns-perf-p99-half-peak-1proc p99_ms=${p99One.toFixed(3)} anchor=${p99Anchor.toFixed(3)} ratio=${(p99One / p99Anchor).toFixed(2)}`,
  );
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  deleteNamespace(ns);
  rmSync(dir, { recursive: true, force: true });
}
