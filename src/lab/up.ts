// `podnet lab up`: the namespaces and links of the plan, the sysctls, the store and the API
// server, then one agent and one pod runner per host; returns when the cluster is ready.
import { ensureBpfFs } from '../kernel/bpf-datapath.js';
import { applyClusterDns, finishClusterDns } from './cluster-dns-up.js';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createFileLogger } from '../util/log.js';
import { OperationError, UsageError, errorMessage } from '../util/errors.js';
import { addNetns, listNetns, setSysctls } from '../kernel/netns.js';
import { ipBatch } from '../kernel/links.js';
import { isRunning } from '../process/daemons.js';
import { openStore } from '../store/open.js';
import { applyObject, listObjects } from '../store/objects.js';
import { ensureNamespace } from '../registry/apply.js';
import { SYSTEM_NAMESPACES } from '../registry/namespaces.js';
import {
  HOST_SYSCTLS,
  IPV6_SYSCTLS,
  UNDERLAY_SYSCTLS,
  hostBatch,
  ownsNetns,
  planLab,
  underlayBatch,
  type HostPlan,
  type LabOptions,
  type LabPlan,
} from './plan.js';
import { readLabState, stateFromPlan, writeLabState, type LabState } from './state.js';
import { logFile, startProcess, type ProcessRecord } from './supervisor.js';
import { clusterNetworkFor } from './cluster.js';
import { fabricPeers, startFabric, validateFabric } from './fabric.js';
import { startLabEtcd } from './etcd.js';
import { apiServerStateDir, startLabApiServer } from './apiserver.js';
import { labSourceUrl, writeLabAccounts } from './kube-accounts.js';
import { installPlugin, labNetwork, writeNetwork } from './network.js';
import { labDown } from './down.js';
import { podnetBin } from './paths.js';
import { hasIPv6Underlay, wireguardSocketDir } from './plan.js';
import { nodesNotReady } from './ready.js';
import { pollUntil } from './wait.js';
import { startContainerd } from './containerd.js';
import { KUBERNETES_SCHEME } from '../kube/url.js';
import { startLabUi } from './ui.js';
import { LAB_AWS_ENV, startLabCloud } from './cloud-up.js';
import { phaseClock } from './phase-clock.js';
import { labCloudSettings } from './cloud-plan.js';
import type { CloudSettings } from '../api/types.js';

export interface UpRequest {
  labsDir: string;
  name: string;
  options: LabOptions;
  ownerPid: number;
  /** lab up's own log goes to the lab's logs/lab.log; verbose shows it on stderr as well. */
  verbose: boolean;
  /** How long to wait for the cluster to become ready. */
  readyTimeoutMs?: number;
}

export async function labUp(req: UpRequest): Promise<LabState> {
  validateFabric(req.options);
  const plan = planLab(req.labsDir, req.name, req.options);
  if (readLabState(plan.stateDir)) {
    throw new UsageError(
      `lab ${req.name} is already up: take it down first with 'podnet lab down --name ${req.name}'`,
    );
  }
  const leftovers = (await listNetns()).filter((n) => ownsNetns(req.name, n));
  if (leftovers.length > 0) {
    throw new UsageError(
      `namespaces of lab ${req.name} are left over (${leftovers.slice(0, 3).join(', ')}): ` +
        `remove them with 'podnet lab down --name ${req.name}'`,
    );
  }
  claimStateDir(plan, req.name);
  const log = createFileLogger(
    'podnet-lab',
    { lab: req.name },
    logFile(plan.stateDir, 'lab'),
    req.verbose,
  );
  const state = stateFromPlan(plan, req.ownerPid);
  writeLabState(state);
  const booting: Promise<unknown>[] = [];
  // Tells background work that waits on the lab's processes that `lab up` has failed.
  const stopBooting = new AbortController();
  // Each phase's time at info level: where a slow `lab up` spent it, in its own log.
  const clock = phaseClock();
  const ended = (phase: string, msg: string, fields: Record<string, unknown> = {}): void =>
    log.info({ ...fields, ...clock.end(phase) }, msg);
  try {
    installPlugin(plan.stateDir);
    for (const h of plan.hosts) {
      mkdirSync(h.stateDir, { recursive: true });
      writeNetwork(h, labNetwork(h));
    }
    await buildTopology(plan);
    ended('topology', 'topology built', { hosts: plan.hosts.length });
    if (plan.options.store === 'etcd') {
      const etcd = await startLabEtcd(plan);
      state.storeUrl = etcd.storeUrl;
      writeLabState(state);
      ended('etcd', 'etcd started');
    }
    // The VPC exists before the ClusterNetwork, which names its route tables.
    const cloud =
      plan.options.backend === 'cloud' ? labCloudSettings(await startLabCloud(plan)) : undefined;
    if (cloud) ended('cloud', 'cloud emulator started');
    await prepareStore(state.storeUrl, plan, cloud);
    ended('store', 'store prepared');
    // The API server and the map spend their start booting node: they boot while the hosts do.
    // Only agents that read the cluster through the API server wait for it first.
    const apiServer = inBackground(startLabApiServer(plan), booting);
    const ui = inBackground(startLabUi(plan), booting);
    if (plan.options.api === 'kubernetes') {
      state.apiServer = await apiServer;
      writeLabState(state);
      await prepareAccounts(state, plan);
      ended('api server', 'API server started and accounts written');
    }
    // The fabric router is up before the agents, whose first sessions then connect at once.
    await startFabric(plan);
    if (plan.options.fabric !== 'none') ended('fabric', 'fabric started');
    if (plan.options.runtime === 'containerd') {
      // Before the pod runners, which are its CRI clients.
      await Promise.all(plan.hosts.map((h) => startContainerd(plan.stateDir, h)));
      ended('containerd', 'containerd started');
    }
    const started = await Promise.all(
      plan.hosts.map((h) => Promise.all([startAgent(state, h), startKubelet(plan, h)])),
    );
    ended('spawn', 'agents and pod runners started');
    // The DNS pods start while the agents finish their first sync (seconds on a busy machine).
    const dnsPods = inBackground(
      applyClusterDns(
        plan,
        state.storeUrl,
        log,
        labSourceUrl(state, { role: 'dns' }),
        stopBooting.signal,
      ),
      booting,
    );
    await waitReady(plan, state.storeUrl, started.flat(), req.readyTimeoutMs ?? 60_000);
    ended('nodes ready', 'nodes ready');
    state.apiServer = await apiServer;
    writeLabState(state);
    await finishClusterDns(plan, state.storeUrl, log, await dnsPods);
    ended('cluster dns', 'cluster DNS ready');
    state.uiUrl = await ui;
    state.phase = 'ready';
    writeLabState(state);
    const { sinceStartMs } = clock.end('handover');
    log.info({ ms: sinceStartMs, phases: clock.summary() }, 'lab ready');
    return state;
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'lab up failed; removing it');
    // A process still starting would otherwise be recorded after the lab is gone.
    stopBooting.abort();
    await Promise.allSettled(booting);
    await labDown({ labsDir: req.labsDir, name: req.name });
    throw err;
  }
}

/**
 * Runs `work` beside what follows: its failure surfaces where it is awaited (not as an
 * unhandled rejection meanwhile), and `booting` lets a failed `lab up` wait for it to settle.
 */
function inBackground<T>(work: Promise<T>, booting: Promise<unknown>[]): Promise<T> {
  work.catch(() => undefined);
  booting.push(work);
  return work;
}

/**
 * Makes the lab's directory, atomically: of two `lab up` of one name, exactly one goes on (the
 * other must not tear down what the first is building).
 */
function claimStateDir(plan: LabPlan, name: string): void {
  mkdirSync(dirname(plan.stateDir), { recursive: true });
  try {
    mkdirSync(plan.stateDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const what = readLabState(plan.stateDir)
      ? 'is already up'
      : 'is being made, or was left half made';
    throw new UsageError(
      `lab ${name} ${what}: take it down first with 'podnet lab down --name ${name}'`,
    );
  }
}

/** Namespaces, sysctls, then links: a handful of processes whatever the number of hosts. */
async function buildTopology(plan: LabPlan): Promise<void> {
  await addNetns([plan.underlayNetns, ...plan.hosts.map((h) => h.netns)]);
  // Sysctls first, so interfaces created next inherit the `default` values.
  const ipv6 = hasIPv6Underlay(plan.options) ? IPV6_SYSCTLS : {};
  await Promise.all([
    setSysctls(plan.underlayNetns, { ...UNDERLAY_SYSCTLS, ...ipv6 }),
    ...plan.hosts.map((h) => setSysctls(h.netns, { ...HOST_SYSCTLS, ...ipv6 })),
  ]);
  await ipBatch(plan.underlayNetns, underlayBatch(plan));
  await Promise.all(plan.hosts.map((h) => ipBatch(h.netns, hostBatch(h))));
}

/**
 * Creates the lab's store and writes the system namespaces, the `default` ClusterNetwork with
 * the lab's choices, and the fabric router's BGPPeers if there is one.
 */
async function prepareStore(
  storeUrl: string,
  plan: LabPlan,
  cloud: CloudSettings | undefined,
): Promise<void> {
  const store = await openStore(storeUrl);
  try {
    for (const ns of SYSTEM_NAMESPACES) await ensureNamespace(store, ns);
    await applyObject(store, clusterNetworkFor(plan.options, cloud));
    for (const peer of fabricPeers(plan)) await applyObject(store, peer);
  } finally {
    await store.close();
  }
}

/** Each lab process's ServiceAccount, RBAC and kubeconfig, before any of them starts. */
async function prepareAccounts(state: LabState, plan: LabPlan): Promise<void> {
  const store = await openStore(state.storeUrl);
  try {
    await writeLabAccounts(
      store,
      plan.stateDir,
      apiServerStateDir(plan.stateDir),
      state.apiServer!.hostUrl,
      plan.hosts.map((h) => h.name),
    );
  } finally {
    await store.close();
  }
}

/** `--store URL`, or with `--api kubernetes` the agent's kubeconfig and the API server. */
function clusterArgs(source: string): string[] {
  if (!source.startsWith(KUBERNETES_SCHEME)) return ['--store', source];
  const [config = '', query = ''] = source.slice(KUBERNETES_SCHEME.length).split('?');
  const server = new URLSearchParams(query).get('server');
  return ['--kubeconfig', config, ...(server ? ['--api-server', server] : [])];
}

function agentArgv(state: LabState, h: HostPlan): string[] {
  return [
    podnetBin(),
    'agent',
    '--node',
    h.name,
    '--zone',
    h.zone,
    '--node-ip',
    h.ip,
    '--state-dir',
    h.stateDir,
    '--socket',
    h.agentSocket,
    // Every host's wireguard-go would otherwise share the machine's /run/wireguard/pn-wg.sock.
    '--wireguard-socket-dir',
    wireguardSocketDir(h.stateDir),
    '--metrics',
    h.metricsAddress,
    ...clusterArgs(labSourceUrl(state, { role: 'agent', host: h.name })),
    // The lab's API server listens on zone 1's router: closed to pods like the nodes.
    '--control-plane',
    state.underlay.zones[0]!.router,
  ];
}

async function startAgent(state: LabState, h: HostPlan): Promise<ProcessRecord> {
  // `ip netns exec` gives the agent a /sys without /sys/fs/bpf: the eBPF data path pins here.
  await ensureBpfFs();
  return startProcess(state.stateDir, {
    id: `agent-${h.name}`,
    argv: agentArgv(state, h),
    netns: h.netns,
    ...(state.options.backend === 'cloud' ? { env: { ...process.env, ...LAB_AWS_ENV } } : {}),
  });
}

/**
 * The pod runner joins only the host's network namespace: it creates pod namespaces, whose
 * mounts under /run/netns must be visible machine-wide (`ip netns exec` would hide them).
 */
function startKubelet(plan: LabPlan, h: HostPlan): Promise<ProcessRecord> {
  return startProcess(plan.stateDir, {
    id: `kubelet-${h.name}`,
    argv: [podnetBin(), 'lab', 'kubelet', '--name', plan.name, '--node', h.name],
    netns: h.netns,
    enter: 'nsenter',
  });
}

/**
 * The cluster is ready when every Node object says Ready=True (each agent's node controller
 * sets it once all its controllers are). Any lab process exiting meanwhile is a failure.
 */
async function waitReady(
  plan: LabPlan,
  storeUrl: string,
  procs: ProcessRecord[],
  timeoutMs: number,
): Promise<void> {
  const store = await openStore(storeUrl);
  try {
    let waiting: string[] = [];
    const done = await pollUntil(async () => {
      for (const p of procs) {
        if (!isRunning(p)) {
          throw new OperationError(`${p.id} exited: ${lastLine(p.log)} (log: ${p.log})`);
        }
      }
      const { items } = await listObjects(store, 'Node');
      waiting = nodesNotReady(
        items,
        plan.hosts.map((h) => h.name),
      );
      return waiting.length === 0 ? true : undefined;
    }, timeoutMs);
    if (!done) {
      throw new OperationError(`not ready after ${timeoutMs / 1000}s: ${waiting.join(', ')}`);
    }
  } finally {
    await store.close();
  }
}

function lastLine(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines[lines.length - 1] ?? '';
  } catch {
    return '';
  }
}
