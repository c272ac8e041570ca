// The soak: a 3-host, 2-zone lab with a client pod on every host requesting a service by DNS
// name, 10 requests a second each, while pods come and go, services are made and removed and
// pods' labels flip between two selectors (so endpoints change). Every minute the resident
// memory of each agent and DNS pod is sampled and printed, and beside it each one's V8 heap
// after its last major garbage collection: a resident size that creeps while that heap stays flat
// is the allocator keeping pages, not a leak. At the end churn's objects are
// deleted, and once the cluster has settled nothing may be left that was not there before
// churn: pod address reservations, veths, podnet's routes, rule lines, conntrack entries to
// gone addresses, store keys, leases. Not in `make test`.
//   node dist/bench/soak.js [--minutes N]   (default 30)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import type { Pod, Service } from '../src/api/types.js';
import { findPodRecord } from '../src/lab/pods.js';
import { findProcess } from '../src/lab/supervisor.js';
import { openStore } from '../src/store/open.js';
import { ChaosLab } from '../test/helpers/chaos-lab.js';
import { faultFigures } from '../test/helpers/chaos-figures.js';
import { PODNET, sweepLeftovers } from '../test/helpers/lab.js';
import { HEAP_AFTER_GC_METRIC, HEAP_SPACE_SIZE_METRIC } from '../src/util/heap-metrics.js';
import { residentMB, slopePerTenMinutes, type MemorySample } from './lib/memory-slope.js';
import { countLeaks, leaksBetween, type LeakCounts } from './lib/soak-leaks.js';

const execFileAsync = promisify(execFile);
const HOSTS = 3;
const PER_SECOND = 10;
const SAMPLE_MS = 60_000;
/** One churn step: a pod made, the oldest past the limit deleted, a label flipped. */
const STEP_MS = 3000;
/** Churn's pods alive at once. */
const LIVE_PODS = 6;
/** Every this many steps, one of churn's two services is made or removed. */
const SERVICE_EVERY = 5;
/** Time for the cluster to settle after churn stops before leaks are counted. */
const SETTLE_MS = 120_000;
const SELECTORS = ['soak-a', 'soak-b'];

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '30' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  console.error(`--minutes ${values.minutes}: give a number of minutes above 0`);
  process.exit(2);
}
/** Memory grows while caches fill: the slope counts from here (a third of the run, ≤ 10 min). */
const WARM_UP_MS = Math.min(10, minutes / 3) * 60_000;

async function podnet(lab: string, args: string[], input?: string): Promise<string> {
  const child = execFileAsync(PODNET, ['--lab', lab, ...args], { encoding: 'utf8' });
  if (input !== undefined) child.child.stdin!.end(input);
  return (await child).stdout;
}

function podYaml(name: string, node: string, app: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    `metadata: {name: ${name}, namespace: default, labels: {app: ${app}}}`,
    `spec: {nodeName: ${node}, containers: [{name: main, command: [sleep, infinity]}]}`,
  ].join('\n');
}

function serviceYaml(app: string): string {
  return [
    'apiVersion: v1',
    'kind: Service',
    `metadata: {name: ${app}, namespace: default}`,
    `spec: {selector: {app: ${app}}, ports: [{port: 80, targetPort: 8080, protocol: TCP}]}`,
  ].join('\n');
}

/** Churn: one step every STEP_MS until `until`; counts what it did. */
async function churn(chaos: ChaosLab, until: number): Promise<Record<string, number>> {
  const done = { pods_created: 0, pods_deleted: 0, labels_flipped: 0, services_changed: 0 };
  const live: { name: string; node: string; app: number }[] = [];
  const services = new Set<string>();
  for (let step = 0; Date.now() < until; step++) {
    const started = Date.now();
    const node = chaos.lab.hosts[step % HOSTS]!.name;
    const pod = { name: `soak-${step}`, node, app: step % 2 };
    await podnet(chaos.name, ['apply', '-f', '-'], podYaml(pod.name, node, SELECTORS[pod.app]!));
    live.push(pod);
    done.pods_created++;
    if (live.length > LIVE_PODS) {
      const gone = live.shift()!;
      await podnet(chaos.name, ['delete', 'pod', gone.name, '-n', 'default']);
      done.pods_deleted++;
    }
    const flip = live[step % live.length]!;
    flip.app = 1 - flip.app;
    await podnet(
      chaos.name,
      ['apply', '-f', '-'],
      podYaml(flip.name, flip.node, SELECTORS[flip.app]!),
    );
    done.labels_flipped++;
    if (step % SERVICE_EVERY === 0) {
      const app = SELECTORS[(step / SERVICE_EVERY) % 2]!;
      if (services.delete(app))
        await podnet(chaos.name, ['delete', 'service', app, '-n', 'default']);
      else {
        await podnet(chaos.name, ['apply', '-f', '-'], serviceYaml(app));
        services.add(app);
      }
      done.services_changed++;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, STEP_MS - (Date.now() - started))));
  }
  for (const p of live) await podnet(chaos.name, ['delete', 'pod', p.name, '-n', 'default']);
  for (const app of services) await podnet(chaos.name, ['delete', 'service', app, '-n', 'default']);
  return done;
}

/** A sampled process: its pid, and the namespace and port where it serves its metrics. */
interface Watched {
  pid: number;
  netns: string;
  metricsPort: number;
}

/** The processes whose memory is sampled: each agent and each DNS pod's server. */
async function watchedProcesses(chaos: ChaosLab): Promise<Map<string, Watched>> {
  const out = new Map<string, Watched>();
  for (const h of chaos.lab.hosts) {
    const pid = findProcess(chaos.lab.stateDir, `agent-${h.name}`)!.pid;
    out.set(`agent-${h.name}`, { pid, netns: `${chaos.name}-${h.name}`, metricsPort: 9101 });
  }
  const pods = JSON.parse(
    await podnet(chaos.name, ['get', 'pods', '-n', 'kube-system', '-o', 'json']),
  );
  for (const p of (pods as { items: Pod[] }).items) {
    const record = findPodRecord(chaos.lab.stateDir, 'kube-system', p.metadata.name);
    if (!record) continue;
    const { stdout } = await execFileAsync('ip', ['netns', 'pids', record.netns], {
      encoding: 'utf8',
    });
    // The DNS server: the largest process in the pod (not the shim beside it).
    const pids = stdout
      .split('\n')
      .filter((pid) => pid !== '')
      .map(Number);
    const biggest = pids.sort((a, b) => (residentMB(b) ?? 0) - (residentMB(a) ?? 0))[0];
    if (biggest !== undefined) {
      out.set(`dns-${p.metadata.name}`, { pid: biggest, netns: record.netns, metricsPort: 9153 });
    }
  }
  return out;
}

/** The metrics a process serves, as text; empty when it does not answer. */
async function metricsText(netns: string, port: number): Promise<string> {
  try {
    const { stdout } = await execFileAsync(
      'ip',
      ['netns', 'exec', netns, 'curl', '-sf', '-m', '5', `http://127.0.0.1:${port}/metrics`],
      { encoding: 'utf8' },
    );
    return stdout;
  } catch {
    return '';
  }
}

/** One sample's value in MB, undefined when absent or 0 (a heap not yet collected). */
function metricMB(metrics: string, series: string): number | undefined {
  const escaped = series.replace(/[{}"]/g, (c) => `\\${c}`);
  const bytes = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(metrics)?.[1];
  return bytes === undefined || Number(bytes) === 0 ? undefined : Number(bytes) / 2 ** 20;
}

/**
 * The V8 spaces a resident size can grow by without a leak: the young generation's semi-spaces
 * (they grow under a high allocation rate) and the old generation's committed pages.
 */
function committedSpaces(metrics: string): string | undefined {
  const space = (name: string): number | undefined =>
    metricMB(metrics, `${HEAP_SPACE_SIZE_METRIC}{space="${name}"}`);
  // prom-client names each space without its `_space` suffix.
  const [young, old] = [space('new'), space('old')];
  return young === undefined || old === undefined
    ? undefined
    : `new:${young.toFixed(1)},old:${old.toFixed(1)}`;
}

/** Every pod IP and cluster IP that exists now. */
async function liveAddresses(chaos: ChaosLab): Promise<Set<string>> {
  const pods = JSON.parse(await podnet(chaos.name, ['get', 'pods', '-A', '-o', 'json'])) as {
    items: Pod[];
  };
  const services = JSON.parse(
    await podnet(chaos.name, ['get', 'services', '-A', '-o', 'json']),
  ) as { items: Service[] };
  const live = new Set<string>();
  for (const p of pods.items) for (const ip of p.status?.podIPs ?? []) live.add(ip.ip);
  for (const p of pods.items) if (p.status?.podIP) live.add(p.status.podIP);
  for (const s of services.items)
    for (const ip of s.spec.clusterIPs ?? [s.spec.clusterIP ?? '']) live.add(ip);
  return live;
}

async function leaksNow(
  chaos: ChaosLab,
  store: Awaited<ReturnType<typeof openStore>>,
): Promise<LeakCounts> {
  return countLeaks(chaos.lab, store, await liveAddresses(chaos));
}

sweepLeftovers();
const chaos = new ChaosLab(HOSTS);
try {
  await chaos.up();
  await chaos.startTraffic(PER_SECOND);
  const store = await openStore(chaos.lab.storeUrl);
  const before = await leaksNow(chaos, store);
  const processes = await watchedProcesses(chaos);
  const samples = new Map<string, MemorySample[]>([...processes.keys()].map((k) => [k, []]));
  const heaps = new Map<string, MemorySample[]>([...processes.keys()].map((k) => [k, []]));
  const start = Date.now();
  const sample = async (): Promise<void> => {
    const at = Date.now() - start;
    const line = [`soak t=${Math.round(at / 60_000)}min rss_mb`];
    for (const [name, { pid }] of processes) {
      const mb = residentMB(pid);
      if (mb === undefined) continue;
      samples.get(name)!.push({ at, mb });
      line.push(`${name}=${mb.toFixed(1)}`);
    }
    const metrics = new Map<string, string>();
    for (const [name, { netns, metricsPort }] of processes)
      metrics.set(name, await metricsText(netns, metricsPort));
    line.push('heap_after_gc_mb');
    for (const [name, text] of metrics) {
      const mb = metricMB(text, HEAP_AFTER_GC_METRIC);
      if (mb === undefined) continue;
      heaps.get(name)!.push({ at, mb });
      line.push(`${name}=${mb.toFixed(1)}`);
    }
    line.push('v8_committed_mb');
    for (const [name, text] of metrics) {
      const spaces = committedSpaces(text);
      if (spaces !== undefined) line.push(`${name}=${spaces}`);
    }
    console.log(line.join(' '));
  };
  await sample();
  const timer = setInterval(() => void sample(), SAMPLE_MS);
  const done = await churn(chaos, start + minutes * 60_000);
  await sample();
  clearInterval(timer);
  const churnEnd = Date.now();
  const traffic = faultFigures(chaos.requests, { from: start, to: churnEnd, clearedAt: churnEnd });
  // Settled: leaks are what is still there once the cluster had time to take churn away.
  let leaks = leaksBetween(before, await leaksNow(chaos, store));
  while (leaks.length > 0 && Date.now() - churnEnd < SETTLE_MS) {
    await new Promise((r) => setTimeout(r, 5000));
    leaks = leaksBetween(before, await leaksNow(chaos, store));
  }
  const settledMs = Date.now() - churnEnd;
  await store.close();

  console.log(`\nsoak ${minutes} min on ${HOSTS} hosts: ${JSON.stringify(done)}`);
  console.log(
    `requests ${traffic.ok} ok ${traffic.failed} failed, longest gap ${traffic.gapMs} ms`,
  );
  console.log(`leaks after ${Math.round(settledMs / 1000)} s: ${leaks.length === 0 ? 'none' : ''}`);
  for (const l of leaks) console.log(`  ${l}`);
  console.log('\nprocess              first-MB  last-MB  slope-MB/10min (after warm-up)');
  const rows = (what: string, series: Map<string, MemorySample[]>): number[] => {
    const slopes: number[] = [];
    for (const [name, s] of series) {
      if (s.length === 0) continue;
      const slope = slopePerTenMinutes(s, WARM_UP_MS);
      if (slope !== undefined) slopes.push(slope);
      console.log(
        `${`${name} ${what}`.padEnd(20)} ${s[0]!.mb.toFixed(1).padStart(8)} ${s.at(-1)!.mb.toFixed(1).padStart(8)}` +
          `  ${slope === undefined ? 'n/a' : slope.toFixed(2)}`,
      );
    }
    return slopes;
  };
  const slopes = rows('rss', samples);
  const heapSlopes = rows('heap', heaps);
  const worst = slopes.length > 0 ? Math.max(...slopes) : Number.NaN;
  const worstHeap = heapSlopes.length > 0 ? Math.max(...heapSlopes) : Number.NaN;
  console.log(
    `BENCH soak minutes=${minutes} leaks=${leaks.length} worst_rss_slope_mb_per_10min=${worst.toFixed(2)}` +
      ` worst_heap_after_gc_slope_mb_per_10min=${worstHeap.toFixed(2)}` +
      ` failed=${traffic.failed} ok=${traffic.ok} gap_ms=${traffic.gapMs}` +
      ` pods_created=${done.pods_created} labels_flipped=${done.labels_flipped}` +
      ` services_changed=${done.services_changed}`,
  );
} finally {
  await chaos.down();
}
