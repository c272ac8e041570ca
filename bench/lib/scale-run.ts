// The scale harness behind bench/scale.ts and its short form in `make test`: one lab of three
// real hosts (real agents, real cluster DNS, nftables proxy), grown in steps to a target size
// with simulated nodes, pods and services (scale-fixture.ts), and measured at each step.
//
// Each figure is taken the way a user would notice it: kernel objects on the real hosts (routes
// to every simulated node, a map element for every service), resident memory from /proc, the
// live heap from a heap snapshot (scale-heap.ts), a Node join until its route is on every host,
// a Service until the cluster DNS answers it, a real pod from the store write until the pod
// runner reports it Running, an agent killed and restarted until its first full pass, and
// listing every pod from the store.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import type { Namespace, Pod } from '../../src/api/types.js';
import { hostNetns } from '../../src/lab/plan.js';
import type { LabState } from '../../src/lab/state.js';
import { findProcess, listProcesses, type ProcessRecord } from '../../src/lab/supervisor.js';
import { isRunning, signalGroup } from '../../src/process/daemons.js';
import { createObject, deleteObject, getObject, listObjects } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { labDown, labUp, podnet, sweepLeftovers, testLabName } from '../../test/helpers/lab.js';
import { liveHeapMb, snapshotSetup } from './scale-heap.js';
import {
  SIM_NAMESPACE,
  SIM_POD_RANGE,
  simClusterIP,
  simNode,
  simNodeName,
  simPod,
  simPodCIDR,
  simService,
  simServiceName,
} from './scale-fixture.js';

const run = promisify(execFile);

export interface ScaleTarget {
  nodes: number;
  pods: number;
  services: number;
}

export interface ScaleStep {
  fraction: number;
  nodes: number;
  pods: number;
  services: number;
  /** Figure name → value, in the unit its name ends with. */
  figures: Map<string, number>;
}

/** Samples of the single-change figures per step (their maximum is reported: p99 of few). */
const SAMPLES = 3;
const WRITES_IN_FLIGHT = 32;

export interface ScaleOptions {
  /** Keep the agent's heap snapshots (one per step) here, to see what holds its memory. */
  snapshotDir?: string;
}

export async function runScale(
  target: ScaleTarget,
  fractions: readonly number[],
  log: (line: string) => void = () => {},
  opts: ScaleOptions = {},
): Promise<ScaleStep[]> {
  sweepLeftovers();
  const name = testLabName();
  const snapshots = snapshotSetup(opts.snapshotDir);
  const lab = withNodeOptions(snapshots.nodeOptions, () =>
    labUp(name, ['--nodes', '3', '--proxy', 'nftables']),
  );
  const store = await openStore(lab.storeUrl);
  const steps: ScaleStep[] = [];
  try {
    await createObject(store, namespace(SIM_NAMESPACE));
    const podsPerNode = Math.max(1, Math.floor(target.pods / target.nodes));
    let have = { nodes: 0, pods: 0, services: 0 };
    let extra = 0;
    for (const fraction of fractions) {
      const want = {
        nodes: Math.max(1, Math.round(target.nodes * fraction)),
        services: Math.max(1, Math.round(target.services * fraction)),
        pods: 0,
      };
      want.pods = want.nodes * podsPerNode;
      const figures = new Map<string, number>();
      const started = performance.now();
      await writeAll([
        ...range(have.nodes, want.nodes).map((i) => () => createObject(store, simNode(i))),
        ...range(have.services, want.services).map((i) => () => createObject(store, simService(i))),
        ...range(have.pods, want.pods).map(
          (i) => () => createObject(store, simPod(i, podsPerNode, target.services)),
        ),
      ]);
      const written =
        want.nodes - have.nodes + want.services - have.services + want.pods - have.pods;
      const fillMs = performance.now() - started;
      figures.set('store_writes_per_s', written / (fillMs / 1000));
      log(`step ${fraction}: ${written} objects written in ${(fillMs / 1000).toFixed(1)} s`);
      have = want;

      const caughtUp = performance.now();
      await waitUntil('every host to program the cluster', 600_000, () =>
        allProgrammed(lab, want.nodes, want.services),
      );
      figures.set('agents_catch_up_s', (performance.now() - caughtUp) / 1000);
      await settled(store);
      figures.set('agent_rss_mb', Math.max(...agents(lab).map(rssMb)));
      figures.set(
        'agent_heap_mb',
        Math.max(...(await Promise.all(lab.hosts.map((h) => heapMb(lab, h))))),
      );
      // node-2's: node-1's agent is the one killed and restarted below.
      figures.set(
        'agent_live_mb',
        await liveHeapMb(agents(lab)[1]!.pid, snapshots.dir, { keep: !!opts.snapshotDir }),
      );
      figures.set('dns_rss_mb', Math.max(0, ...dnsProcesses(lab).map(treeRssMb)));
      figures.set('list_pods_ms', await median(SAMPLES, () => timed(() => listAllPods(store))));

      const joins: number[] = [];
      const answers: number[] = [];
      const podStarts: number[] = [];
      for (let k = 0; k < SAMPLES; k++) {
        joins.push(await nodeJoin(store, lab, target.nodes + extra));
        answers.push(await serviceAnswered(store, lab, target.services + extra));
        podStarts.push(await podStart(store, lab, `probe-${extra}`));
        extra++;
      }
      figures.set('node_join_ms', Math.max(...joins));
      figures.set('service_to_dns_ms', Math.max(...answers));
      figures.set('pod_start_ms', Math.max(...podStarts));
      figures.set('agent_resync_s', await agentRestart(lab, want.nodes, want.services));
      steps.push({ fraction, ...want, figures });
      log(`step ${fraction}: ${[...figures].map(([k, v]) => `${k}=${v.toFixed(1)}`).join(' ')}`);
    }
    return steps;
  } finally {
    await store.close();
    labDown(name);
    if (!opts.snapshotDir) rmSync(snapshots.dir, { recursive: true, force: true });
  }
}

/** Runs `f` with `options` added to NODE_OPTIONS, which the processes it starts inherit. */
function withNodeOptions<T>(options: string, f: () => T): T {
  const before = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = before ? `${before} ${options}` : options;
  try {
    return f();
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = before;
  }
}

function namespace(name: string): Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Runs the writes with a bounded number in flight (the store serialises them anyway). */
async function writeAll(writes: (() => Promise<unknown>)[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < writes.length) await writes[next++]!();
  };
  await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, worker));
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function median(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

async function listAllPods(store: Store): Promise<number> {
  return (await listObjects(store, 'Pod')).items.length;
}

async function waitUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`scale: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Until the store's revision has stood still for a second (Lease renewals aside, the cluster
 * has settled): single changes are timed on a settled cluster, not behind the fill's tail.
 */
async function settled(store: Store): Promise<void> {
  let last = -1;
  let still = 0;
  const deadline = Date.now() + 120_000;
  while (still < 4 && Date.now() < deadline) {
    const revision = await store.revision();
    still = revision === last ? still + 1 : 0;
    last = revision;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function inHost(lab: LabState, host: string, argv: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', hostNetns(lab.name, host), ...argv], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/** Routes to simulated pod subnets, and service map elements, on one host. */
async function programmed(
  lab: LabState,
  host: string,
): Promise<{ routes: number; services: number }> {
  const [routes, map] = await Promise.all([
    inHost(lab, host, ['ip', '-4', 'route', 'show', 'proto', '80', 'root', SIM_POD_RANGE]),
    inHost(lab, host, ['nft', '-j', 'list', 'map', 'ip', 'podnet', 'service-ips']),
  ]);
  const elements = (JSON.parse(map) as { nftables: { map?: { elem?: unknown[] } }[] }).nftables
    .map((o) => o.map?.elem?.length ?? 0)
    .reduce((a, b) => a + b, 0);
  return { routes: routes.split('\n').filter((l) => l.trim()).length, services: elements };
}

async function allProgrammed(lab: LabState, nodes: number, services: number): Promise<boolean> {
  const counts = await Promise.all(lab.hosts.map((h) => programmed(lab, h.name)));
  // The service map also holds the cluster's own services (kubernetes, kube-dns).
  return counts.every((c) => c.routes === nodes && c.services >= services);
}

function agents(lab: LabState): ProcessRecord[] {
  return lab.hosts.map((h) => findProcess(lab.stateDir, `agent-${h.name}`)!);
}

function dnsProcesses(lab: LabState): ProcessRecord[] {
  return listProcesses(lab.stateDir).filter((p) => p.argv.includes('dns'));
}

function rssMb(p: ProcessRecord): number {
  return residentKb(p.pid) / 1024;
}

/** V8 heap in use by a host's agent, as its own metrics say (RSS also counts code and free pages). */
async function heapMb(lab: LabState, host: LabState['hosts'][number]): Promise<number> {
  const metrics = await inHost(lab, host.name, [
    'curl',
    '-s',
    `http://${host.metricsAddress}/metrics`,
  ]);
  const bytes = /^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1];
  if (bytes === undefined) throw new Error(`scale: no heap figure in ${host.name}'s agent metrics`);
  return Number(bytes) / 1024 / 1024;
}

/** A process and its descendants (the DNS server's workers), summed. */
function treeRssMb(p: ProcessRecord): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      // The parent is the 4th field, after the command name in parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      /* gone meanwhile */
    }
  }
  let kb = 0;
  const stack = [p.pid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    kb += residentKb(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return kb / 1024;
}

function residentKb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** One simulated node joins: until its route is on every host (then it leaves again). */
async function nodeJoin(store: Store, lab: LabState, i: number): Promise<number> {
  const cidr = simPodCIDR(i);
  const routed = async (present: boolean): Promise<boolean> => {
    const shown = await Promise.all(
      lab.hosts.map((h) => inHost(lab, h.name, ['ip', '-4', 'route', 'show', cidr])),
    );
    return shown.every((s) => (s.trim() !== '') === present);
  };
  const t = performance.now();
  await createObject(store, simNode(i));
  await waitUntil(`node ${simNodeName(i)} routed`, 60_000, () => routed(true), 10);
  const ms = performance.now() - t;
  await deleteObject(store, 'Node', undefined, simNodeName(i));
  await waitUntil(`node ${simNodeName(i)} unrouted`, 60_000, () => routed(false), 50);
  return ms;
}

/** One Service created: until the cluster DNS, asked from a host, answers its cluster IP. */
async function serviceAnswered(store: Store, lab: LabState, i: number): Promise<number> {
  const fqdn = `${simServiceName(i)}.${SIM_NAMESPACE}.svc.cluster.local`;
  const host = lab.hosts[2]!.name;
  const t = performance.now();
  await createObject(store, simService(i));
  await waitUntil(
    `${fqdn} answered`,
    60_000,
    async () => {
      const out = await inHost(lab, host, [
        'dig',
        '+short',
        '+time=1',
        '+tries=1',
        '@10.96.0.10',
        fqdn,
      ]).catch(() => '');
      return out.trim() === simClusterIP(i);
    },
    10,
  );
  const ms = performance.now() - t;
  await deleteObject(store, 'Service', SIM_NAMESPACE, simServiceName(i));
  return ms;
}

/** A real pod on node-1, from its store write until the pod runner reports it Running. */
async function podStart(store: Store, lab: LabState, name: string): Promise<number> {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'scale-probe' } },
    spec: {
      nodeName: lab.hosts[0]!.name,
      containers: [{ name: 'sleep', image: 'busybox', command: ['sleep', '3600'] }],
    },
  };
  const t = performance.now();
  await createObject(store, pod);
  await waitUntil(
    `pod ${name} running`,
    60_000,
    async () => {
      const p = await getObject(store, 'Pod', 'default', name);
      return p?.status?.phase === 'Running' && p.status.podIP !== undefined;
    },
    10,
  );
  const ms = performance.now() - t;
  const gone = podnet(['delete', 'pod', name, '--force', '--grace-period', '0', '--lab', lab.name]);
  if (gone.status !== 0) throw new Error(`scale: deleting ${name}: ${gone.stderr}`);
  return ms;
}

/** node-1's agent killed and started again: until it has made one full pass over the cluster. */
async function agentRestart(lab: LabState, nodes: number, services: number): Promise<number> {
  const host = lab.hosts[0]!;
  const agent = findProcess(lab.stateDir, `agent-${host.name}`)!;
  signalGroup(agent, 'SIGKILL');
  await waitUntil('the agent to die', 30_000, async () => !isRunning(agent), 20);
  const t = performance.now();
  const repair = podnet(['lab', 'repair', '--name', lab.name]);
  if (repair.status !== 0) throw new Error(`scale: lab repair: ${repair.stderr}`);
  await waitUntil(
    'the restarted agent to pass once',
    600_000,
    async () => {
      const metrics = await inHost(lab, host.name, [
        'curl',
        '-s',
        `http://${host.metricsAddress}/metrics`,
      ]).catch(() => '');
      return (
        /podnet_routing_reconciles_total\{result="ok"\} [1-9]/.test(metrics) &&
        /podnet_sync_proxy_rules_total\{[^}]*result="ok"\} [1-9]/.test(metrics) &&
        (await allProgrammed(lab, nodes, services))
      );
    },
    100,
  );
  return (performance.now() - t) / 1000;
}

/**
 * The least each figure is taken to cost when judging growth: below it a cost is within the
 * noise of one sample and unnoticeable (listing 500 pods in 2 ms), and a ratio to it would
 * measure the noise, or the garbage collector's young generation, not the cluster.
 */
const GROWTH_FLOORS: Record<string, number> = {
  agents_catch_up_s: 2,
  list_pods_ms: 20,
  node_join_ms: 100,
  service_to_dns_ms: 100,
  pod_start_ms: 500,
  agent_resync_s: 2,
};

/** How a figure grew from the first step to the last (cost at 100 % ÷ cost at 10 %). */
export function growth(steps: readonly ScaleStep[], figure: string): number {
  const first = Math.max(steps[0]!.figures.get(figure)!, GROWTH_FLOORS[figure] ?? 0);
  const last = steps[steps.length - 1]!.figures.get(figure)!;
  return first > 0 ? last / first : 1;
}

export function stepTable(steps: readonly ScaleStep[]): string {
  const figures = [...steps[0]!.figures.keys()];
  const header = ['figure', ...steps.map((s) => `${s.nodes}n/${s.pods}p/${s.services}s`)];
  const rows = figures.map((f) => [f, ...steps.map((s) => s.figures.get(f)!.toFixed(1))]);
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((r) => r[c]!.length)));
  return [header, ...rows].map((r) => r.map((x, c) => x.padEnd(widths[c]!)).join('  ')).join('\n');
}
