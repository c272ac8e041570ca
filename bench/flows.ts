// Flows overhead, on against off in one run: the agent's flow log (its podnet-conntrack-events
// reader, decoder and ring, bench/lib/flow-reader.ts) runs in the client's host namespace or not, while
// (1) a client pod opens short TCP connections through a service (DNAT by the real proxier) to
// backends on both hosts as fast as it can up to 5,000 a second — completed connections, and the
// CPU share of a core the flow log used, and that CPU per connection (a busy machine manages
// fewer than 5,000 a second; the cost of each does not depend on how many) — and (2) iperf3 runs
// pod to pod across hosts. Phases alternate (off, on, three times) so that the machine's load
// drifts into both alike. Goals: <= 5 % fewer connections, <= 0.15 of a core, <= 3 % less iperf3
// throughput. Ends with BENCH lines.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { netfilterKernel } from '../src/kernel/netfilter.js';
import { createProxier } from '../src/proxy/proxier.js';
import { sweepStaleNamespaces } from '../test/helpers/names.js';
import { CLUSTER, buildTopology, type Topology } from '../test/helpers/proxy-topology.js';

const SERVICE_IP = '10.96.0.80';
const RATE = 5000;
const SECONDS = 5;
const ROUNDS = 3;
const READER = fileURLToPath(new URL('./lib/flow-reader.js', import.meta.url));

/** Short connections at up to RATE a second for SECONDS: prints how many completed. */
const CONNECTOR = `
import socket, sys, time
ip, port, rate, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
done = failed = 0
start = time.perf_counter()
while True:
    now = time.perf_counter() - start
    if now >= seconds: break
    if done + failed >= now * rate:
        time.sleep(0.0005)
        continue
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect((ip, port))
        done += 1
    except OSError:
        failed += 1
    s.close()
print(done, failed)
`;

interface Phase {
  connections: number;
  failed: number;
  /** Shares of one core the flow log used (0 when off): the agent's decoding, the helper. */
  node: number;
  helper: number;
  /** Seconds of CPU the flow log used in all (0 when off). */
  cpuSeconds: number;
  events: number;
  lost: number;
  gbps: number;
}

function setAccounting(topo: Topology, host: string, on: boolean): void {
  for (const key of ['nf_conntrack_acct', 'nf_conntrack_timestamp'])
    topo.exec(host, ['sysctl', '-qw', `net.netfilter.${key}=${on ? 1 : 0}`]);
}

/** Starts the flow log in `host`; resolves once it reads events. */
async function startReader(host: string, args: string[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', host, process.execPath, READER, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve) => lines.once('line', () => resolve()));
  return child;
}

async function stopReader(
  child: ChildProcess,
): Promise<{ events: number; lost: number; node: number; helper: number }> {
  const lines = createInterface({ input: child.stdout! });
  const report = new Promise<string>((resolve) => lines.once('line', resolve));
  child.kill('SIGTERM');
  return JSON.parse(await report) as {
    events: number;
    lost: number;
    node: number;
    helper: number;
  };
}

function iperf(topo: Topology, from: string, to: { ns: string; ip: string }): number {
  const server = spawn('ip', ['netns', 'exec', to.ns, 'iperf3', '-s', '-1'], { stdio: 'ignore' });
  try {
    sleepSync(300);
    const out = topo.exec(from, ['iperf3', '-c', to.ip, '-t', String(SECONDS), '-J']);
    const result = JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } };
    return result.end.sum_received.bits_per_second / 1e9;
  } finally {
    server.kill();
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function phase(topo: Topology, flows: boolean): Promise<Phase> {
  const host = topo.hosts[0];
  const client = topo.pods.client!;
  setAccounting(topo, host, flows);
  const readerArgs = [
    'host-0',
    client.ip,
    `${SERVICE_IP}:80`,
    `${topo.pods.b1!.ip}@host-0`,
    `${topo.pods.b2!.ip}@host-1`,
  ];
  // The flow log runs through each measurement; its CPU share is that of the connections'.
  let reader = flows ? await startReader(host, readerArgs) : undefined;
  const started = Date.now();
  const [connections, failed] = topo
    .exec(client.ns, ['python3', '-c', CONNECTOR, SERVICE_IP, '80', String(RATE), String(SECONDS)])
    .trim()
    .split(' ')
    .map(Number) as [number, number];
  const seconds = (Date.now() - started) / 1000;
  const seen = reader ? await stopReader(reader) : { events: 0, lost: 0, node: 0, helper: 0 };
  reader = flows ? await startReader(host, readerArgs) : undefined;
  const gbps = iperf(topo, client.ns, topo.pods.b2!);
  if (reader) await stopReader(reader);
  return {
    connections,
    failed,
    gbps,
    ...seen,
    node: seen.node / seconds,
    helper: seen.helper / seconds,
    cpuSeconds: seen.node + seen.helper,
  };
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const topo = buildTopology([
    { name: 'client', host: 0, n: 10 },
    { name: 'b1', host: 0, n: 3 },
    { name: 'b2', host: 1, n: 3 },
  ]);
  try {
    await topo.serve(['b1', 'b2'], 8080);
    const proxier = createProxier(
      'nftables',
      { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' },
      netfilterKernel(topo.hosts[0]),
    );
    await proxier.sync(
      [
        {
          name: 'bench/web:',
          clusterIP: SERVICE_IP,
          protocol: 'TCP',
          port: 80,
          endpoints: [
            { ip: topo.pods.b1!.ip, port: 8080 },
            { ip: topo.pods.b2!.ip, port: 8080 },
          ],
        },
      ],
      true,
    );
    const off: Phase[] = [];
    const on: Phase[] = [];
    console.log('flows  connections  failed  CPU agent     helper  events  lost  iperf3');
    for (let round = 0; round < ROUNDS; round++) {
      for (const flows of [false, true]) {
        const p = await phase(topo, flows);
        (flows ? on : off).push(p);
        console.log(
          `${(flows ? 'on' : 'off').padEnd(5)}  ${String(p.connections).padStart(11)}  ${String(p.failed).padStart(6)}  ${p.node.toFixed(3).padStart(9)}  ${p.helper.toFixed(3).padStart(9)}  ${String(p.events).padStart(6)}  ${String(p.lost).padStart(4)}  ${p.gbps.toFixed(2)} Gbit/s`,
        );
      }
    }
    const sum = (list: Phase[], f: (p: Phase) => number) => list.reduce((s, p) => s + f(p), 0);
    const connOff = sum(off, (p) => p.connections);
    const connOn = sum(on, (p) => p.connections);
    const cpu = sum(on, (p) => p.node + p.helper) / on.length;
    // The CPU per connection does not depend on how many connections a busy machine managed:
    // at the goal's 5,000 a second it is this many shares of a core.
    const perConnection = sum(on, (p) => p.cpuSeconds) / connOn;
    const gbpsOff = sum(off, (p) => p.gbps) / off.length;
    const gbpsOn = sum(on, (p) => p.gbps) / on.length;
    console.log(
      `BENCH flows-connections per_s_on=${(connOn / (ROUNDS * SECONDS)).toFixed(0)} anchor=${(connOff / (ROUNDS * SECONDS)).toFixed(0)} ratio=${(connOn / connOff).toFixed(3)} flow_cpu_cores=${cpu.toFixed(3)} flow_cpu_us_per_conn=${(perConnection * 1e6).toFixed(1)} flow_cpu_cores_at_5000=${(perConnection * RATE).toFixed(3)} lost=${sum(on, (p) => p.lost)}`,
    );
    console.log(
      `BENCH flows-iperf3 gbps_on=${gbpsOn.toFixed(2)} anchor=${gbpsOff.toFixed(2)} ratio=${(gbpsOn / gbpsOff).toFixed(3)}`,
    );
  } finally {
    topo.destroy();
  }
}

await main();
