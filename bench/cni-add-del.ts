// CNI ADD and DEL latency as a runtime sees it (exec the plugin, wait for its answer): podnet's
// plugin + agent beside Debian's reference ptp + host-local, driven by the same harness in the
// same run, alternating pod by pod so machine noise falls on both alike.
//
// The harness runs inside a namespace standing in for the host (it re-executes itself there),
// so both plugins are exec'd directly, as a runtime on that host would.
//
// IP_FAMILY=dual measures a dual-stack node instead: one address per family for every pod,
// from podnet (a dual-stack ClusterNetwork) and from host-local (one range per family).
//
// Beside them, in the same rotation, a second podnet agent in a host namespace of its own. On
// an IPv4-only node it is an IPv6-only one (an IPv6-only ClusterNetwork): one address per pod
// either way, so IPv4-only p50 ÷ IPv6-only p50 is what IPv6 itself costs an ADD (goal >= 0.95),
// its spread over four runs of pods. On a dual-stack node it is an IPv4-only one: what the
// second address costs, a figure of its own (a dual ADD does more work than either).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { percentile, range } from './lib/stats.js';

const PODS = Number(process.env.PODS ?? 200);
const DUAL = process.env.IP_FAMILY === 'dual';
/** The figures' names: `cni-add`, or `cni-add-dual` on a dual-stack node. */
const SUFFIX = DUAL ? '-dual' : '';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PODNET_PLUGIN = join(ROOT, 'dist/bin/podnet-cni');
const PTP_PLUGIN = '/usr/lib/cni/ptp';
const CNI_PATH = '/usr/lib/cni';

interface Plugin {
  name: string;
  binary: string;
  conf: string;
}

function callPlugin(binary: string, env: Record<string, string>, conf: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(binary, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${binary} ${env.CNI_COMMAND} failed: ${Buffer.concat(out)}`));
    });
    child.stdin.end(conf);
  });
}

async function waitForAgent(podnet: Plugin): Promise<void> {
  const deadline = Date.now() + 30_000;
  const status = podnet.conf.replace('"1.0.0"', '"1.1.0"');
  while (Date.now() < deadline) {
    try {
      await callPlugin(podnet.binary, { CNI_COMMAND: 'STATUS', CNI_PATH }, status);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error('the podnet agent did not come up');
}

type Family = 'ipv4' | 'ipv6' | 'dual';

/** The ClusterNetwork each kind of node is given; IPv4-only is the default, with none given. */
const NETWORKS: Record<Exclude<Family, 'ipv4'>, string> = {
  dual: `apiVersion: podnet.io/v1
kind: ClusterNetwork
metadata: {name: default}
spec:
  clusterCIDRs: [10.244.0.0/16, fd00:10:244::/56]
`,
  // The lab's IPv6-only networks (src/lab/cluster.ts): a /64 per node out of a ULA /56.
  ipv6: `apiVersion: podnet.io/v1
kind: ClusterNetwork
metadata: {name: default}
spec:
  clusterCIDR: fd00:10:244::/56
  clusterCIDRs: [fd00:10:244::/56]
  nodeSubnetPrefixIPv6: 64
  serviceCIDR: fd00:10:96::/112
  serviceCIDRs: [fd00:10:96::/112]
  dnsIP: fd00:10:96::a
  dnsIPs: [fd00:10:96::a]
`,
};

/**
 * A podnet agent with a store of its own under `dir` (a node of `family`), run in the
 * namespace `netns` (this one when undefined), and the plugin that talks to it.
 */
function startAgent(
  dir: string,
  name: string,
  family: Family,
  netns?: string,
): { plugin: Plugin; agent: ChildProcess } {
  mkdirSync(dir);
  const socket = join(dir, 'agent.sock');
  const store = `sqlite:${join(dir, 'store.db')}`;
  const cli = join(ROOT, 'dist/src/cli/main.js');
  if (family !== 'ipv4') {
    execFileSync('node', [cli, '--store', store, 'apply', '-f', '-'], {
      input: NETWORKS[family],
      stdio: ['pipe', 'ignore', 'inherit'],
    });
  }
  const argv = [
    'node',
    cli,
    '--store',
    store,
    'agent',
    '--node',
    'bench-node',
    '--state-dir',
    join(dir, 'state'),
    '--socket',
    socket,
    '--metrics',
    '127.0.0.1:9101',
    '--node-ip',
    '172.31.1.1',
  ];
  const inNetns = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
  const agent = spawn(inNetns[0]!, inNetns.slice(1), {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PODNET_LOG_LEVEL: 'warn' },
  });
  const plugin: Plugin = {
    name,
    binary: PODNET_PLUGIN,
    conf: JSON.stringify({
      cniVersion: '1.0.0',
      name: 'podnet',
      type: 'podnet',
      agentSocket: socket,
    }),
  };
  return { plugin, agent };
}

/** Inside the host namespace: start the agents, then measure the plugins. */
async function measure(pods: string[], otherHost: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-cni-'));
  const main = startAgent(join(dir, 'main'), 'podnet', DUAL ? 'dual' : 'ipv4');
  const podnet = main.plugin;
  // The other kind of node, in a host namespace of its own (its own routes and veths).
  const other = startAgent(
    join(dir, 'other'),
    DUAL ? 'podnet ipv4-only' : 'podnet ipv6-only',
    DUAL ? 'ipv4' : 'ipv6',
    otherHost,
  );
  const ptp: Plugin = {
    name: 'ptp+host-local',
    binary: PTP_PLUGIN,
    conf: JSON.stringify({
      cniVersion: '1.0.0',
      name: 'bench-ptp',
      type: 'ptp',
      mtu: 1500,
      ipam: {
        type: 'host-local',
        ranges: [
          [{ subnet: '10.245.0.0/16' }],
          ...(DUAL ? [[{ subnet: 'fd00:10:245::/64' }]] : []),
        ],
        routes: [{ dst: '0.0.0.0/0' }, ...(DUAL ? [{ dst: '::/0' }] : [])],
        dataDir: join(dir, 'host-local'),
      },
    }),
  };
  try {
    execFileSync('ip', ['link', 'set', 'lo', 'up']);
    await waitForAgent(podnet);
    await waitForAgent(other.plugin);
    const plugins = [podnet, ptp, other.plugin];
    const times = new Map(
      plugins.map((p) => [p.name, { add: [] as number[], del: [] as number[] }]),
    );
    const env = (p: Plugin, command: string, i: number): Record<string, string> => {
      const k = plugins.indexOf(p);
      const tag = 'abc'[k]!;
      return {
        CNI_COMMAND: command,
        CNI_CONTAINERID: `bench-${tag}-${i}`,
        CNI_NETNS: `/run/netns/${pods[i * plugins.length + k]}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH,
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${tag}-${i}`,
      };
    };
    for (const command of ['ADD', 'DEL'] as const) {
      for (let i = 0; i < PODS; i++) {
        // Rotate which plugin goes first, so none always follows another's work.
        const order = plugins.map((_, k) => plugins[(i + k) % plugins.length]!);
        for (const p of order) {
          const ms = await callPlugin(p.binary, env(p, command, i), p.conf);
          times.get(p.name)![command === 'ADD' ? 'add' : 'del'].push(ms);
        }
      }
    }
    const row = (name: string, op: 'add' | 'del') => {
      const t = times.get(name)![op];
      return { p50: percentile(t, 50), p99: percentile(t, 99) };
    };
    console.log(`CNI ${PODS} pods${DUAL ? ' (dual-stack)' : ''}, sequential calls, ms:`);
    console.log('plugin            op    p50     p99');
    for (const p of plugins) {
      for (const op of ['add', 'del'] as const) {
        const r = row(p.name, op);
        console.log(
          `${p.name.padEnd(17)} ${op.padEnd(4)} ${r.p50.toFixed(1).padStart(6)} ${r.p99.toFixed(1).padStart(7)}`,
        );
      }
    }
    for (const op of ['add', 'del'] as const) {
      const ours = row(podnet.name, op);
      const ref = row(ptp.name, op);
      console.log(
        `BENCH cni-${op}${SUFFIX} p50_ms=${ours.p50.toFixed(1)} p99_ms=${ours.p99.toFixed(1)} ` +
          `anchor=${ref.p50.toFixed(1)} anchor_p99_ms=${ref.p99.toFixed(1)} ` +
          `ratio=${(ours.p50 / ref.p50).toFixed(2)}`,
      );
    }
    // IPv4-only ÷ IPv6-only (or dual-stack) ADD time: 1 when IPv6 (or the second address)
    // costs nothing. The spread is the same ratio over each quarter of the pods.
    const [ipv4, other6] = DUAL
      ? [other.plugin.name, podnet.name]
      : [podnet.name, other.plugin.name];
    const adds = (name: string) => times.get(name)!.add;
    const quarter = Math.ceil(PODS / 4);
    const quarters = [0, 1, 2, 3].map(
      (q) =>
        percentile(adds(ipv4).slice(q * quarter, (q + 1) * quarter), 50) /
        percentile(adds(other6).slice(q * quarter, (q + 1) * quarter), 50),
    );
    const v4 = percentile(adds(ipv4), 50);
    const v6 = percentile(adds(other6), 50);
    const figure = DUAL ? 'cni-add-dual-stack' : 'cni-add-ipv6';
    const is = DUAL
      ? 'ratio_is=ipv4_only_ms_per_dual_stack_ms'
      : 'goal=0.95 ratio_is=ipv4_only_ms_per_ipv6_only_ms';
    console.log(
      `BENCH ${figure} p50_ms=${v6.toFixed(1)} p99_ms=${percentile(adds(other6), 99).toFixed(1)} ` +
        `anchor=${v4.toFixed(1)} anchor_p99_ms=${percentile(adds(ipv4), 99).toFixed(1)} ` +
        `ratio=${(v4 / v6).toFixed(2)} spread=${range(quarters)} ${is} anchor_is=podnet_ipv4_only`,
    );
  } finally {
    main.agent.kill('SIGKILL');
    other.agent.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Outside: make the host and pod namespaces, run the measurement inside the host, clean up. */
function main(): void {
  const inside = process.argv.indexOf('--pods');
  if (inside >= 0) {
    const otherHost = process.argv[process.argv.indexOf('--other-host') + 1]!;
    measure(process.argv[inside + 1]!.split(','), otherHost).catch((err: unknown) => {
      console.error(String(err));
      process.exit(1);
    });
    return;
  }
  sweepStaleNamespaces();
  const host = uniqueName('bh');
  const otherHost = uniqueName('bo');
  const pods = Array.from({ length: PODS * 3 }, (_, i) => uniqueName(`b${i}`));
  const all = [host, otherHost, ...pods];
  execFileSync('ip', ['-batch', '-'], { input: all.map((n) => `netns add ${n}\n`).join('') });
  execFileSync('ip', ['-n', otherHost, 'link', 'set', 'lo', 'up']);
  // ptp waits for duplicate address detection on the pod's IPv6 address (a second or more);
  // podnet adds it without. Off in every pod namespace, the two compare on their wiring.
  execFileSync('ip', ['-batch', '-'], {
    input: pods
      .map((n) => `netns exec ${n} sysctl -qw net.ipv6.conf.default.accept_dad=0\n`)
      .join(''),
  });
  try {
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync(
      'ip',
      ['netns', 'exec', host, 'node', self, '--pods', pods.join(','), '--other-host', otherHost],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) process.exitCode = 1;
  } finally {
    spawnSync('ip', ['-force', '-batch', '-'], {
      input: all.map((n) => `netns delete ${n}\n`).join(''),
      stdio: ['pipe', 'ignore', 'ignore'],
    });
  }
}

main();
