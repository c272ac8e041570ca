// CNI ADD and DEL latency as a runtime sees it (exec the plugin, wait for its answer): podnet's
// plugin + agent beside Debian's reference ptp + host-local, driven by the same harness in the
// same run, alternating pod by pod so machine noise falls on both alike.
//
// The harness runs inside a namespace standing in for the host (it re-executes itself there),
// so both plugins are exec'd directly, as a runtime on that host would.
//
// IP_FAMILY=dual measures a dual-stack node instead: one address per family for every pod,
// from podnet (a dual-stack ClusterNetwork) and from host-local (one range per family).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { percentile } from './lib/stats.js';

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

const DUAL_STACK_NETWORK = `apiVersion: podnet.io/v1
kind: ClusterNetwork
metadata: {name: default}
spec:
  clusterCIDRs: [10.244.0.0/16, fd00:10:244::/56]
`;

/** Inside the host namespace: start the agent, then measure both plugins. */
async function measure(pods: string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-cni-'));
  const socket = join(dir, 'agent.sock');
  const store = `sqlite:${join(dir, 'store.db')}`;
  if (DUAL) {
    execFileSync(
      'node',
      [join(ROOT, 'dist/src/cli/main.js'), '--store', store, 'apply', '-f', '-'],
      {
        input: DUAL_STACK_NETWORK,
        stdio: ['pipe', 'ignore', 'inherit'],
      },
    );
  }
  const agent = spawn(
    'node',
    [
      join(ROOT, 'dist/src/cli/main.js'),
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
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, PODNET_LOG_LEVEL: 'warn' } },
  );
  const podnet: Plugin = {
    name: 'podnet',
    binary: PODNET_PLUGIN,
    conf: JSON.stringify({
      cniVersion: '1.0.0',
      name: 'podnet',
      type: 'podnet',
      agentSocket: socket,
    }),
  };
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
    const plugins = [podnet, ptp];
    const times = new Map(
      plugins.map((p) => [p.name, { add: [] as number[], del: [] as number[] }]),
    );
    const env = (p: Plugin, command: string, i: number): Record<string, string> => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: `bench-${p === podnet ? 'a' : 'b'}-${i}`,
      CNI_NETNS: `/run/netns/${pods[i * 2 + (p === podnet ? 0 : 1)]}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=pod-${p === podnet ? 'a' : 'b'}-${i}`,
    });
    for (const command of ['ADD', 'DEL'] as const) {
      for (let i = 0; i < PODS; i++) {
        // Alternate which plugin goes first, so neither always follows the other's work.
        const order = i % 2 === 0 ? plugins : [...plugins].reverse();
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
  } finally {
    agent.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Outside: make the host and pod namespaces, run the measurement inside the host, clean up. */
function main(): void {
  const inside = process.argv.indexOf('--pods');
  if (inside >= 0) {
    measure(process.argv[inside + 1]!.split(',')).catch((err: unknown) => {
      console.error(String(err));
      process.exit(1);
    });
    return;
  }
  sweepStaleNamespaces();
  const host = uniqueName('bh');
  const pods = Array.from({ length: PODS * 2 }, (_, i) => uniqueName(`b${i}`));
  const all = [host, ...pods];
  execFileSync('ip', ['-batch', '-'], { input: all.map((n) => `netns add ${n}\n`).join('') });
  if (DUAL) {
    // ptp waits for duplicate address detection on the pod's IPv6 address (a second or more);
    // podnet adds it without. Off in every pod namespace, the two compare on their wiring.
    execFileSync('ip', ['-batch', '-'], {
      input: pods
        .map((n) => `netns exec ${n} sysctl -qw net.ipv6.conf.default.accept_dad=0\n`)
        .join(''),
    });
  }
  try {
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync('ip', ['netns', 'exec', host, 'node', self, '--pods', pods.join(',')], {
      stdio: 'inherit',
    });
    if (r.status !== 0) process.exitCode = 1;
  } finally {
    spawnSync('ip', ['-force', '-batch', '-'], {
      input: all.map((n) => `netns delete ${n}\n`).join(''),
      stdio: ['pipe', 'ignore', 'ignore'],
    });
  }
}

main();
