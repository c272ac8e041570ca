// Pod sandbox start latency as kubelet sees it (RunPodSandbox until the sandbox is ready with
// its address): podnet's plugin beside Debian's ptp + host-local, each behind a containerd
// configured alike (the lab's containerd config; only the CNI directories differ): the lab
// host's own, whose pod runner is stopped so that it leaves the benchmark's sandboxes alone,
// and a second one started beside it in the same host. Alternating sandbox by sandbox, so
// machine noise falls on both.
// Each sandbox is removed before the next is run, so the figure is one start on a quiet host.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sweepStaleNamespaces } from '../test/helpers/names.js';
import { labDown, labUp, sweepStaleLabs, testLabName } from '../test/helpers/lab.js';
import {
  DEBIAN_CNI_DIR,
  containerdPaths,
  startContainerd,
  sweepContainerd,
} from '../src/lab/containerd.js';
import { CriClient } from '../src/lab/cri-client.js';
import { removeSandbox } from '../src/lab/cri-kubelet.js';
import { sandboxConfig } from '../src/lab/cri-pods.js';
import { findProcess, logFile, stopProcesses, type ProcessRecord } from '../src/lab/supervisor.js';
import type { LabState } from '../src/lab/state.js';
import type { Pod } from '../src/api/types.js';
import { percentile } from './lib/stats.js';

const PODS = Number(process.env.PODS ?? 100);

interface Runtime {
  name: string;
  cri: CriClient;
  times: number[];
  /** The sandbox behind each time: the agent's log names its ADD by it. */
  sandboxes: string[];
}

/** The anchor's network: Debian's reference plugins, in a range of their own. */
function writePtpConflist(confDir: string, dataDir: string): void {
  mkdirSync(confDir, { recursive: true });
  const list = {
    cniVersion: '1.0.0',
    name: 'bench-ptp',
    plugins: [
      {
        type: 'ptp',
        mtu: 1500,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: '10.245.0.0/16' }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir,
        },
      },
    ],
  };
  writeFileSync(join(confDir, '10-bench-ptp.conflist'), JSON.stringify(list));
}

/** A second containerd in the lab's host, for Debian's plugins; its pods' namespaces stay its own. */
async function startAnchor(lab: LabState, dir: string): Promise<ProcessRecord> {
  const host = lab.hosts[0]!;
  const confDir = join(dir, 'net.d');
  writePtpConflist(confDir, join(dir, 'host-local'));
  return startContainerd(
    lab.stateDir,
    { ...host, name: 'bench-ptp', stateDir: dir },
    {
      binDir: DEBIAN_CNI_DIR,
      confDir,
    },
  );
}

/** One sandbox: RunPodSandbox, then status until ready with an address; then it is removed. */
async function timeOneSandbox(rt: Runtime, i: number, logDir: string): Promise<void> {
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `bench-${rt.name}-${i}`, namespace: 'bench', uid: `bench-${rt.name}-${i}` },
    spec: { containers: [] },
  };
  const config = sandboxConfig(pod, { ip: '10.96.0.10', domain: 'cluster.local' }, logDir);
  const started = process.hrtime.bigint();
  const id = await rt.cri.runPodSandbox(config);
  for (;;) {
    const s = await rt.cri.podSandboxStatus(id);
    if (s.state === 'SANDBOX_READY' && s.network?.ip) break;
  }
  rt.times.push(Number(process.hrtime.bigint() - started) / 1e6);
  rt.sandboxes.push(id);
  await removeSandbox(rt.cri, id);
}

/** The mean of a histogram per value of `label` (failed calls left out), in ms. */
function histogramMeans(metrics: string, name: string, label: string): Map<string, number> {
  const sums = new Map<string, number>();
  const means = new Map<string, number>();
  const series = new RegExp(`^${name}_(sum|count)\\{.*${label}="([^"]+)".*\\} (\\S+)$`);
  for (const line of metrics.split('\n')) {
    const m = series.exec(line);
    if (!m || line.includes('outcome="error"')) continue;
    const [, kind, value, number] = m as unknown as [string, string, string, string];
    if (kind === 'sum') sums.set(value, Number(number));
    else if (Number(number) > 0) means.set(value, ((sums.get(value) ?? 0) / Number(number)) * 1e3);
  }
  return means;
}

/** Where the agent's time in an ADD went: its own call time and when each stage ended. */
function printAgentStages(netns: string): void {
  const metrics = spawnSync(
    'ip',
    ['netns', 'exec', netns, 'curl', '-s', 'http://127.0.0.1:9101/metrics'],
    { encoding: 'utf8' },
  ).stdout;
  const calls = histogramMeans(metrics, 'podnet_cni_call_duration_seconds', 'command');
  const stages = histogramMeans(metrics, 'podnet_cni_add_stage_seconds', 'stage');
  const show = (m: Map<string, number>): string =>
    [...m].map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
  console.log(`podnet agent, mean ms per call: ${show(calls)}`);
  console.log(`podnet ADD stages, mean ms from its start to their end: ${show(stages)}`);
}

/**
 * The slowest sandboxes and what the agent's log says of their ADD (when each stage ended and
 * the whole ADD, in ms): whether a tail is the agent's or lies outside it.
 */
function printSlowest(rt: Runtime, agentLog: string, count: number): void {
  const stages = new Map<string, Record<string, number>>();
  for (const line of agentLog.split('\n')) {
    if (!line.includes('"pod added"')) continue;
    const entry = JSON.parse(line) as { containerID?: string; stageMs?: Record<string, number> };
    if (entry.containerID && entry.stageMs) stages.set(entry.containerID, entry.stageMs);
  }
  const slowest = rt.times
    .map((ms, i) => ({ ms, id: rt.sandboxes[i]! }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count);
  for (const { ms, id } of slowest) {
    const add = stages.get(id);
    const shown = add ? Object.entries(add).map(([k, v]) => `${k} ${v}`) : ['not in the log'];
    console.log(`slow sandbox ${ms.toFixed(1)} ms; its ADD, ms: ${shown.join(', ')}`);
  }
}

async function main(): Promise<void> {
  sweepStaleLabs();
  sweepStaleNamespaces();
  const name = testLabName();
  const lab = labUp(name, ['--nodes', '1', '--runtime', 'containerd']);
  const host = lab.hosts[0]!;
  const anchorDir = join(host.stateDir, 'bench-ptp');
  let anchor: ProcessRecord | undefined;
  const runtimes: Runtime[] = [];
  try {
    // The host's runner would remove sandboxes that belong to no Pod: the benchmark's.
    await stopProcesses(lab.stateDir, [findProcess(lab.stateDir, `kubelet-${host.name}`)!]);
    anchor = await startAnchor(lab, anchorDir);
    runtimes.push(
      {
        name: 'podnet',
        cri: new CriClient(containerdPaths(host.stateDir).socket),
        times: [],
        sandboxes: [],
      },
      {
        name: 'ptp',
        cri: new CriClient(containerdPaths(anchorDir).socket),
        times: [],
        sandboxes: [],
      },
    );
    const [podnet, ptp] = runtimes as [Runtime, Runtime];
    const logDir = join(anchorDir, 'logs');
    for (let i = 0; i < PODS; i++) {
      // Alternate which goes first, so neither always follows the other's work.
      for (const rt of i % 2 === 0 ? [podnet, ptp] : [ptp, podnet]) {
        await timeOneSandbox(rt, i, logDir);
      }
    }
    console.log(`containerd RunPodSandbox to ready, ${PODS} sandboxes each, ms:`);
    console.log('plugin            p50     p99');
    for (const rt of [podnet, ptp]) {
      const label = rt === podnet ? 'podnet' : 'ptp+host-local';
      console.log(
        `${label.padEnd(15)} ${percentile(rt.times, 50).toFixed(1).padStart(6)} ${percentile(rt.times, 99).toFixed(1).padStart(7)}`,
      );
    }
    printAgentStages(host.netns);
    printSlowest(podnet, readFileSync(logFile(lab.stateDir, `agent-${host.name}`), 'utf8'), 2);
    const ours = { p50: percentile(podnet.times, 50), p99: percentile(podnet.times, 99) };
    const ref = { p50: percentile(ptp.times, 50), p99: percentile(ptp.times, 99) };
    console.log(
      `BENCH containerd-sandbox p50_ms=${ours.p50.toFixed(1)} p99_ms=${ours.p99.toFixed(1)} ` +
        `anchor_p50_ms=${ref.p50.toFixed(1)} anchor_p99_ms=${ref.p99.toFixed(1)} ` +
        `ratio=${(ours.p50 / ref.p50).toFixed(2)} ratio_p99=${(ours.p99 / ref.p99).toFixed(2)}`,
    );
  } finally {
    for (const rt of runtimes) rt.cri.close();
    if (anchor) await stopProcesses(lab.stateDir, [anchor]);
    await sweepContainerd(anchorDir);
    labDown(name);
  }
}

main().catch((err: unknown) => {
  console.error(String(err));
  process.exit(1);
});
