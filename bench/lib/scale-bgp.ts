// The route-reflector figures of the scale harness: one real podnet agent, labelled route
// reflector in a `--routing bgp` lab, takes iBGP sessions from hundreds of simulated nodes
// (scale-fixture.ts's Nodes, written to the store so that the reflector peers with them), each
// a lightweight speaker of scale-bgp-speakers.ts announcing its node's pod subnet. Another real
// agent of the lab, a client of the reflector, watches: its kernel must route to every
// simulated subnet, all of it learnt through the reflector.
//
// The simulated speakers live in a namespace of their own holding every simulated node's
// underlay address, joined by a veth to the reflector's host namespace; nothing else in the lab
// reaches them, and nothing needs to. Figures, each from the moment the speakers start:
//   rr_established_s   every session Established;
//   rr_rib_full_s      the reflector's Loc-RIB holds every simulated subnet;
//   rr_clients_full_s  every simulated speaker was reflected every other's subnet;
//   rr_watcher_routes_s the real client agent's kernel routes every simulated subnet;
//   rr_agent_rss_mb / rr_agent_heap_mb  the reflector agent once converged.
// Beside them, the full mesh's cost at the same size (the sessions each speaker and the
// cluster would hold without the reflector), so the two can be read side by side.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LABEL_ROUTE_REFLECTOR } from '../../src/api/types.js';
import type { LabHost, LabState } from '../../src/lab/state.js';
import { findProcess } from '../../src/lab/supervisor.js';
import { createObject, deleteObject, updateObject } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { labDown, labUp, sweepLeftovers, testLabName } from '../../test/helpers/lab.js';
import { uniqueName } from '../../test/helpers/names.js';
import type { ScaleStep } from './scale-run.js';
import { SIM_POD_RANGE, simNode, simNodeIP, simNodeName } from './scale-fixture.js';

const run = promisify(execFile);
const SPEAKERS_PROGRAM = fileURLToPath(new URL('./scale-bgp-speakers.js', import.meta.url));
/** The reflector's end of the veth to the simulated speakers (outside the simulated range). */
/** Its name must not start with `pn`: the host guard takes such interfaces for pod veths. */
const REFLECTOR_VETH = 'rrsim0';
const REFLECTOR_SIDE = '172.30.255.254';
/** Each poll of the reflector costs it a metrics scrape: often enough for figures of seconds. */
const POLL_MS = 200;

export interface ReflectorRun {
  /** The lab host whose agent reflects (it is labelled for the run, and unlabelled after). */
  reflector: string;
  /** A lab host whose agent, a client of the reflector, must route every simulated subnet. */
  watcher: string;
  speakers: number;
  asNumber?: number;
  timeoutMs?: number;
}

/**
 * bench/scale.ts's BGP part: a lab of three hosts with `--routing bgp`, node-1 the reflector
 * and node-2 watching, measured at each fraction of `speakers` sessions (as `nodes`).
 */
export async function runReflectorScale(
  speakers: number,
  fractions: readonly number[],
  log: (line: string) => void = () => {},
): Promise<ScaleStep[]> {
  sweepLeftovers();
  const name = testLabName();
  const lab = labUp(name, ['--nodes', '3', '--routing', 'bgp']);
  const store = await openStore(lab.storeUrl);
  try {
    const steps: ScaleStep[] = [];
    for (const fraction of fractions) {
      const n = Math.max(1, Math.round(speakers * fraction));
      const figures = await measureReflector(
        store,
        lab,
        { reflector: 'node-1', watcher: 'node-2', speakers: n },
        log,
      );
      steps.push({ fraction, nodes: n, pods: 0, services: 0, figures });
    }
    return steps;
  } finally {
    await store.close();
    labDown(name);
  }
}

/** Runs the reflector at `speakers` sessions and returns its figures (name → value). */
export async function measureReflector(
  store: Store,
  lab: LabState,
  opts: ReflectorRun,
  log: (line: string) => void = () => {},
): Promise<Map<string, number>> {
  const reflector = host(lab, opts.reflector);
  const watcher = host(lab, opts.watcher);
  const n = opts.speakers;
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const simNs = uniqueName('rrsim');
  const figures = new Map<string, number>();
  let speakers: ChildProcess | undefined;
  try {
    await setReflectorLabel(store, reflector.name, true);
    for (let i = 0; i < n; i++) await createObject(store, simNode(i));
    wireSpeakers(simNs, reflector, n);
    const hosts = lab.hosts.length;
    // Every simulated node and every other host a peer of the reflector, the real ones up,
    // and the watcher a client of the reflector alone (it dropped its mesh sessions).
    await waitFor('the reflector to peer with every node', timeoutMs, async () => {
      const m = await agentMetrics(reflector);
      return m.peers === n + hosts - 1 && m.established === hosts - 1 && m.locRib === hosts;
    });
    await waitFor('the watcher to peer with the reflector alone', timeoutMs, async () => {
      const m = await agentMetrics(watcher);
      return m.peers === 1 && m.established === 1;
    });
    const rssBefore = residentMb(agentPid(lab, reflector));
    log(
      `reflector ${reflector.name}: ${n + hosts - 1} peers configured, ${rssBefore.toFixed(1)} MB`,
    );

    const started = await startSpeakers(simNs, reflector.ip, opts.asNumber ?? 64512, n, hosts);
    speakers = started.child;
    const t0 = started.at;
    const pending = new Set(['rib', 'watcher']);
    const deadline = Date.now() + timeoutMs;
    while (pending.size > 0 || !started.done.full) {
      if (Date.now() > deadline) {
        throw new Error(
          `scale-bgp: not converged after ${timeoutMs / 1000} s (waiting for ${[...pending, ...(started.done.full ? [] : ['the simulated clients'])].join(', ')})`,
        );
      }
      if (started.failed) throw new Error(`scale-bgp: simulated speakers: ${started.failed}`);
      if (pending.has('rib') && (await agentMetrics(reflector)).locRib >= hosts + n) {
        figures.set('rr_rib_full_s', (performance.now() - t0) / 1000);
        pending.delete('rib');
      }
      if (pending.has('watcher') && (await simRoutes(watcher)) === n) {
        figures.set('rr_watcher_routes_s', (performance.now() - t0) / 1000);
        pending.delete('watcher');
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    figures.set('rr_established_s', started.done.established! / 1000);
    figures.set('rr_clients_full_s', started.done.full / 1000);
    figures.set('rr_agent_rss_mb', residentMb(agentPid(lab, reflector)));
    figures.set(
      'rr_agent_rss_per_session_kb',
      ((figures.get('rr_agent_rss_mb')! - rssBefore) * 1024) / n,
    );
    figures.set('rr_agent_heap_mb', (await agentMetrics(reflector)).heapMb);
    // Without the reflector every speaker peers with every other: n(n-1)/2 sessions in all.
    const speakersInAll = n + hosts;
    figures.set('rr_sessions_per_client', 1);
    figures.set('mesh_sessions_per_speaker', speakersInAll - 1);
    figures.set('rr_sessions_total', speakersInAll - 1);
    figures.set('mesh_sessions_total', (speakersInAll * (speakersInAll - 1)) / 2);
    log(
      `reflector at ${n} sessions: ${[...figures].map(([k, v]) => `${k}=${v.toFixed(2)}`).join(' ')}`,
    );
    return figures;
  } finally {
    if (speakers && speakers.exitCode === null) speakers.kill('SIGTERM');
    execFileSync('ip', ['netns', 'del', simNs], { stdio: 'ignore' });
    // The simulated Nodes go before the label: without a reflector every node meshes with all.
    for (let i = 0; i < n; i++) await deleteObject(store, 'Node', undefined, simNodeName(i));
    await setReflectorLabel(store, reflector.name, false);
  }
}

function host(lab: LabState, name: string): LabHost {
  const h = lab.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`scale-bgp: no host ${name} in lab ${lab.name}`);
  return h;
}

async function setReflectorLabel(store: Store, node: string, on: boolean): Promise<void> {
  await updateObject(store, 'Node', undefined, node, (n) => {
    const labels = { ...n.metadata.labels };
    if (on) labels[LABEL_ROUTE_REFLECTOR] = 'true';
    else delete labels[LABEL_ROUTE_REFLECTOR];
    n.metadata.labels = labels;
    return n;
  });
}

/**
 * The speakers' namespace: one veth to the reflector's host namespace, every simulated node's
 * address on its end, and a route back on the reflector's end (the simulated range is on-link
 * there, so the reflector reaches each speaker's address directly).
 */
function wireSpeakers(simNs: string, reflector: LabHost, n: number): void {
  execFileSync('ip', ['netns', 'add', simNs]);
  const ip = (ns: string, args: string[]): void => {
    execFileSync('ip', ['-n', ns, ...args]);
  };
  ip(simNs, [
    'link',
    'add',
    'eth0',
    'type',
    'veth',
    'peer',
    'name',
    REFLECTOR_VETH,
    'netns',
    reflector.netns,
  ]);
  ip(reflector.netns, ['addr', 'add', `${REFLECTOR_SIDE}/16`, 'dev', REFLECTOR_VETH]);
  ip(reflector.netns, ['link', 'set', REFLECTOR_VETH, 'up']);
  const lines = ['link set lo up', 'link set eth0 up'];
  for (let i = 0; i < n; i++) lines.push(`addr add ${simNodeIP(i)}/16 dev eth0`);
  execFileSync('ip', ['-n', simNs, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  ip(simNs, ['route', 'add', 'default', 'via', REFLECTOR_SIDE]);
}

interface StartedSpeakers {
  child: ChildProcess;
  /** When the speakers began to connect (performance.now()). */
  at: number;
  done: { established?: number; full?: number };
  failed?: string;
}

async function startSpeakers(
  simNs: string,
  reflectorIP: string,
  asNumber: number,
  n: number,
  hosts: number,
): Promise<StartedSpeakers & { done: { full?: number } }> {
  // Each speaker holds every other speaker's subnet and every host's once reflected.
  const expect = n - 1 + hosts;
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      simNs,
      process.execPath,
      SPEAKERS_PROGRAM,
      reflectorIP,
      '179',
      String(asNumber),
      '0',
      String(n),
      String(expect),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const state: StartedSpeakers = { child, at: 0, done: {} };
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) state.failed = `exit ${code}: ${stderr.trim()}`;
  });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as { event: string; ms?: number };
      if (e.event === 'connecting') {
        state.at = performance.now();
        resolve();
      } else if (e.event === 'established') state.done.established = e.ms!;
      else if (e.event === 'full') state.done.full = e.ms!;
    });
    child.once('exit', () =>
      reject(new Error(`scale-bgp: the simulated speakers did not start: ${stderr.trim()}`)),
    );
  });
  return state;
}

interface AgentFigures {
  /** Configured peers, Established ones, Loc-RIB routes, V8 heap in use. */
  peers: number;
  established: number;
  locRib: number;
  heapMb: number;
}

async function agentMetrics(h: LabHost): Promise<AgentFigures> {
  const { stdout } = await run(
    'ip',
    ['netns', 'exec', h.netns, 'curl', '-s', `http://${h.metricsAddress}/metrics`],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  let peers = 0;
  let established = 0;
  for (const m of stdout.matchAll(/^podnet_bgp_session_established\{[^}]*\} (\d+)$/gm)) {
    peers++;
    established += Number(m[1]);
  }
  const locRib = Number(/^podnet_bgp_loc_rib_routes (\d+)/m.exec(stdout)?.[1] ?? 0);
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(stdout)?.[1] ?? 0);
  return { peers, established, locRib, heapMb: heap / 1024 / 1024 };
}

/** podnet's routes to simulated pod subnets in a host's kernel. */
async function simRoutes(h: LabHost): Promise<number> {
  const { stdout } = await run(
    'ip',
    ['-n', h.netns, '-4', 'route', 'show', 'proto', '80', 'root', SIM_POD_RANGE],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout.split('\n').filter((l) => l.trim()).length;
}

function agentPid(lab: LabState, h: LabHost): number {
  const p = findProcess(lab.stateDir, `agent-${h.name}`);
  if (!p) throw new Error(`scale-bgp: no agent process for ${h.name}`);
  return p.pid;
}

function residentMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024;
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`scale-bgp: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
