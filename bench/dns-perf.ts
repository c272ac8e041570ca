// dnsperf against podnet's DNS server and against dnsmasq serving the same A records from a
// hosts file: same machine, same run, inside a network namespace of our own (its loopback).
// Figures: peak QPS for cluster names (podnet with 1 and 2 worker processes), QPS for forwarded
// names answered from podnet's cache (dnsmasq is the upstream and the anchor), and p99
// latency at half the peak rate. Beside them, IPv6: the same names' AAAA records asked over
// IPv6 (::1) against their A records over IPv4 (127.0.0.1), from one podnet server listening on
// both, in alternating runs of one round; each round's AAAA ÷ A is kept (goal >= 0.95).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { median, range } from './lib/stats.js';

const SERVICES = 1000;
const SECONDS = Number(process.env.DNS_BENCH_SECONDS ?? 5);
const ROUNDS = 3;
const DNSMASQ_PORT = 5301;
const PODNET_PORT = 5300;
const PODNET2_PORT = 5302;
const GOAL_IPV6_PER_IPV4 = 0.95;

const dir = mkdtempSync(join(tmpdir(), 'podnet-dnsperf-'));
const ns = uniqueName('dnsperf');
const children: ChildProcess[] = [];

function inNs(argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

function writeInputs(): void {
  const objects: unknown[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } }];
  const cluster: string[] = [];
  const cluster6: string[] = [];
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
    cluster6.push(`${name} AAAA`);
    hosts.push(`${ip} ${name}`);
    const ext = `host-${i}.example.test`;
    external.push(`${ext} A`);
    hosts.push(`192.0.${2 + Math.floor(i / 250)}.${(i % 250) + 1} ${ext}`);
  }
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(objects));
  writeFileSync(join(dir, 'cluster.txt'), `${cluster.join('\n')}\n`);
  writeFileSync(join(dir, 'cluster6.txt'), `${cluster6.join('\n')}\n`);
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
  const latencies = [...out.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]));
  return { qps, lost, latencies };
}

function peak(port: number, file: string, server?: string): number {
  return dnsperf(port, file, ['-c', '4', '-q', '500', '-l', String(SECONDS)], server).qps;
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
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--cache-size=10000',
      '--local-ttl=300',
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--user=root',
    ]),
  );
  const serve = new URL('../test/helpers/dns-serve.js', import.meta.url).pathname;
  const upstream = `127.0.0.1:${DNSMASQ_PORT}`;
  start(
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

  // IPv6 beside IPv4: AAAA over ::1 and A over 127.0.0.1, one server, alternating first.
  const ipv4Runs: number[] = [];
  const ipv6Runs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const v4 = (): void => void ipv4Runs.push(peak(PODNET_PORT, 'cluster.txt'));
    const v6 = (): void => void ipv6Runs.push(peak(PODNET_PORT, 'cluster6.txt', '::1'));
    for (const run of round % 2 === 0 ? [v4, v6] : [v6, v4]) run();
  }
  const perRound = ipv6Runs.map((v6, r) => v6 / ipv4Runs[r]!);
  const ratio6 = median(perRound);

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
  console.log(`podnet dns, AAAA over IPv6  ${ipv6Runs.map(fmt).join('  ')}`);
  console.log(`podnet dns, A over IPv4     ${ipv4Runs.map(fmt).join('  ')}`);
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
    `BENCH dns-perf-ipv6 qps=${fmt(median(ipv6Runs))} anchor=${fmt(median(ipv4Runs))} ratio=${ratio6.toFixed(2)} spread=${range(perRound)} goal=${GOAL_IPV6_PER_IPV4.toFixed(2)} anchor_is=podnet_ipv4_a`,
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
