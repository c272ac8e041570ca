// A pod in the lab: a network namespace on its host, wired by the CNI plugin exactly as a
// container runtime would, with its own resolv.conf, running `spec.containers[].command` as
// supervised processes. What the runner did is kept in `pods/<netns>.json`, so a restarted
// runner picks its pods up again without touching them.
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_CLUSTER_NETWORK,
  type Container,
  type ContainerStatus,
  type Pod,
} from '../api/types.js';
import {
  argvOf,
  containerStatus,
  exitReason,
  nextAction,
  noCommandMessage,
  recordExit,
  restartPolicyOf,
  type ContainerExit,
  type ContainerRecord,
} from './containers.js';
import { UsageError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { netnsPath } from '../process/run.js';
import { ipBatch } from '../kernel/links.js';
import {
  deleteNetns,
  ensureNetns,
  pidsInNetns,
  removeNetnsEtc,
  writeNetnsResolvConf,
} from '../kernel/netns.js';
import { isRunning, signalPid } from '../process/daemons.js';
import {
  cniAdd,
  cniDel,
  loadNetworkConfigList,
  podIPOf,
  type Attachment,
  type CniDns,
  type CniResult,
  type NetworkConfigList,
  type Runtime,
} from './cni-runtime.js';
import { cniPath, netConfDir } from './network.js';
import { repoBinDir } from './paths.js';
import { podNetns } from './plan.js';
import { readLabState, type LabState } from './state.js';
import { findProcess, listProcesses, startProcess, stopProcesses } from './supervisor.js';
import type { ProbedContainer } from './prober.js';
import { probeCheck, probeTiming } from './readiness.js';

/** What a pod runner knows about the host it runs pods on. */
export interface PodHost {
  lab: string;
  labDir: string;
  storeUrl: string;
  node: string;
  hostIP: string;
  /** The host's network namespace, where the CNI plugin runs. */
  hostNetns: string;
  network: NetworkConfigList;
  cniPath: string[];
  /** Put first on the PATH of pod processes (the repo's bin/, with `podnet`). */
  binDir: string;
  domain: string;
  dnsIP: string;
  log: Logger;
}

export interface PodRecord {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  netns: string;
  containerId: string;
  ifname: string;
  /** The ADD result, kept for DEL and CHECK (libcni's cache). */
  result?: CniResult;
  podIP?: string;
  /** Supervisor ids of the pod's processes. */
  processes: string[];
  /** Each container's starts, exits and back-off, by container name. */
  containers?: Record<string, ContainerRecord>;
  createdAt: string;
}

export const POD_IFNAME = 'eth0';

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** A CNI container id (`[A-Za-z0-9][A-Za-z0-9_.-]*`): the pod's uid, or a hash of its name. */
export function containerIdOf(pod: Pod): string {
  const uid = pod.metadata.uid;
  if (uid && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(uid)) return uid;
  const key = podKey(pod.metadata.namespace ?? 'default', pod.metadata.name);
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/**
 * The pod's resolv.conf: the nameservers of the CNI result (the cluster DNS), the Kubernetes
 * search path for the pod's namespace, and ndots:5 (as kubelet writes it for ClusterFirst).
 */
export function podResolvConf(
  dns: CniDns | undefined,
  namespace: string,
  defaults: { dnsIP: string; domain: string },
): string {
  const domain = dns?.domain || defaults.domain;
  const nameservers = dns?.nameservers?.length ? dns.nameservers : [defaults.dnsIP];
  const search = [`${namespace}.svc.${domain}`, `svc.${domain}`, domain];
  const options = dns?.options?.length ? dns.options : ['ndots:5'];
  return [
    ...nameservers.map((n) => `nameserver ${n}`),
    `search ${search.join(' ')}`,
    `options ${options.join(' ')}`,
    '',
  ].join('\n');
}

/** Environment of a pod's processes. */
export function podEnv(
  host: Pick<PodHost, 'binDir' | 'node' | 'hostIP' | 'storeUrl' | 'lab'>,
  pod: Pod,
  podIP: string,
  container: Pod['spec']['containers'][number],
  basePath = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: `${host.binDir}:${basePath}`,
    HOME: '/root',
    HOSTNAME: pod.spec.hostname ?? pod.metadata.name,
    POD_NAME: pod.metadata.name,
    POD_NAMESPACE: pod.metadata.namespace ?? 'default',
    POD_IP: podIP,
    NODE_NAME: host.node,
    HOST_IP: host.hostIP,
    // `podnet` verbs run inside a pod (e.g. the cluster DNS) find the lab's store.
    PODNET_STORE: host.storeUrl,
    PODNET_LAB: host.lab,
  };
  for (const e of container.env ?? []) env[e.name] = e.value ?? '';
  return env;
}

/** Supervisor id of a container's process. */
export function containerProcessId(netns: string, container: string): string {
  return `pod-${netns}-${container}`;
}

function podsDir(labDir: string): string {
  return join(labDir, 'pods');
}

export function listPodRecords(labDir: string): PodRecord[] {
  let files: string[];
  try {
    files = readdirSync(podsDir(labDir)).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: PodRecord[] = [];
  for (const f of files.sort()) {
    try {
      out.push(JSON.parse(readFileSync(join(podsDir(labDir), f), 'utf8')) as PodRecord);
    } catch {
      /* removed meanwhile */
    }
  }
  return out;
}

export function findPodRecord(
  labDir: string,
  namespace: string,
  name: string,
): PodRecord | undefined {
  return listPodRecords(labDir).find((r) => r.namespace === namespace && r.name === name);
}

function saveRecord(labDir: string, r: PodRecord): void {
  mkdirSync(podsDir(labDir), { recursive: true });
  const file = join(podsDir(labDir), `${r.netns}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

function attachmentOf(r: PodRecord): Attachment {
  return {
    containerId: r.containerId,
    netnsPath: netnsPath(r.netns),
    ifname: r.ifname,
    podNamespace: r.namespace,
    podName: r.name,
  };
}

function runtimeOf(host: PodHost): Runtime {
  return { cniPath: host.cniPath, netns: host.hostNetns };
}

/**
 * Creates the pod's sandbox: namespace, CNI ADD, resolv.conf (its containers are started by
 * syncContainers). On a failure everything done so far is undone (CNI DEL included), so a
 * retry starts clean.
 */
export async function startPod(host: PodHost, pod: Pod): Promise<PodRecord> {
  const namespace = pod.metadata.namespace ?? 'default';
  const netns = podNetns(host.lab, host.node, namespace, pod.metadata.name);
  const record: PodRecord = {
    namespace,
    name: pod.metadata.name,
    uid: pod.metadata.uid ?? '',
    node: host.node,
    netns,
    containerId: containerIdOf(pod),
    ifname: POD_IFNAME,
    processes: [],
    createdAt: new Date().toISOString(),
  };
  // Recorded before the kernel work, so that a runner killed halfway can undo it.
  saveRecord(host.labDir, record);
  try {
    await ensureNetns(netns);
    await ipBatch(netns, ['link set lo up']);
    record.result = await cniAdd(host.network, attachmentOf(record), runtimeOf(host));
    record.podIP = podIPOf(record.result);
    if (!record.podIP)
      throw new Error(`CNI ADD gave pod ${namespace}/${pod.metadata.name} no address`);
    saveRecord(host.labDir, record);
    writeNetnsResolvConf(netns, podResolvConf(record.result.dns, namespace, host));
    saveRecord(host.labDir, record);
    return record;
  } catch (err) {
    await stopPod(host, record).catch((e) =>
      host.log.warn({ pod: podKey(namespace, record.name), err: errorMessage(e) }, 'undo failed'),
    );
    throw err;
  }
}

/**
 * Removes the pod: stops its processes, CNI DEL (best effort: the plugin's DEL is idempotent
 * and the namespace goes anyway), kills what is left inside, deletes the namespace, its
 * /etc/netns files and the record.
 */
export async function stopPod(host: PodHost, record: PodRecord): Promise<void> {
  const ids = new Set(record.processes);
  const procs = listProcesses(host.labDir).filter((p) => ids.has(p.id));
  await stopProcesses(host.labDir, procs, 3000);
  try {
    await cniDel(host.network, attachmentOf(record), runtimeOf(host), record.result);
  } catch (err) {
    host.log.warn(
      { pod: podKey(record.namespace, record.name), err: errorMessage(err) },
      'CNI DEL failed; removing the namespace anyway',
    );
  }
  for (const pid of pidsInNetns([record.netns]).get(record.netns) ?? []) signalPid(pid, 'SIGKILL');
  await deleteNetns([record.netns]);
  removeNetnsEtc(record.netns);
  for (const c of Object.keys(record.containers ?? {}))
    rmSync(exitFileOf(host, record, c), { force: true });
  rmSync(join(podsDir(host.labDir), `${record.netns}.json`), { force: true });
}

/** The pod runner's view of one lab host, from lab.json and the host's CNI configuration. */
export function podHostOf(state: LabState, node: string, log: Logger): PodHost {
  const host = state.hosts.find((h) => h.name === node);
  if (!host) {
    throw new UsageError(
      `--node ${node}: lab ${state.name} has ${state.hosts.map((h) => h.name).join(', ')}`,
    );
  }
  return {
    lab: state.name,
    labDir: state.stateDir,
    storeUrl: state.hostStoreUrl,
    node,
    hostIP: host.ip,
    hostNetns: host.netns,
    network: loadNetworkConfigList(netConfDir(host.stateDir)),
    cniPath: cniPath(state.stateDir),
    binDir: repoBinDir(),
    dnsIP: DEFAULT_CLUSTER_NETWORK.dnsIP,
    domain: DEFAULT_CLUSTER_NETWORK.domain,
    log,
  };
}

/** A running container's readiness verdict; the runner probes what it is asked about. */
export type ReadinessOf = (container: ProbedContainer) => boolean;

/**
 * Brings a running pod's containers to what kubelet would have: a container never started is
 * started, one that exited is restarted per the pod's restartPolicy after its back-off, one
 * running is left alone. Returns each container's status, a probed one Ready once its probe
 * has passed.
 */
export async function syncContainers(
  host: PodHost,
  pod: Pod,
  record: PodRecord,
  now: Date,
  backoffBaseSeconds?: number,
  readiness?: ReadinessOf,
): Promise<ContainerStatus[]> {
  const policy = restartPolicyOf(pod);
  const records = (record.containers ??= {});
  const statuses: ContainerStatus[] = [];
  for (const c of pod.spec.containers) {
    const argv = argvOf(c);
    const id = containerProcessId(record.netns, c.name);
    let rec = records[c.name];
    let running = false;
    if (argv.length > 0 && record.podIP) {
      const proc = findProcess(host.labDir, id);
      running = proc !== undefined && isRunning(proc) && rec?.startedAt !== undefined;
      if (!running && rec?.startedAt !== undefined) {
        rec = recordExit(
          rec,
          readExit(host, record, c.name, rec.startedAt, now),
          backoffBaseSeconds,
        );
      }
      if (!running && nextAction(rec, policy, now) === 'start') {
        rec = await startContainer(host, pod, record, c, rec, now, backoffBaseSeconds);
        running = rec.startedAt !== undefined;
      }
      records[c.name] = rec!;
      saveRecord(host.labDir, record);
    }
    const key = { namespace: record.namespace, name: record.name, uid: pod.metadata.uid };
    const check = running && readiness ? probeCheck(c, record.podIP!) : undefined;
    const probedReady = check && {
      key: `${id}@${rec!.startedAt}`,
      check,
      timing: probeTiming(c.readinessProbe!),
      netns: record.netns,
    };
    statuses.push(
      containerStatus(
        c,
        rec,
        running,
        key,
        policy,
        noCommandMessage(c),
        probedReady && readiness!(probedReady),
      ),
    );
  }
  return statuses;
}

/**
 * Starts one container's process. A program that cannot be found fails the start as a
 * runtime's would (`StartError`, exit code 128), and counts as an exit for the back-off.
 */
async function startContainer(
  host: PodHost,
  pod: Pod,
  record: PodRecord,
  c: Container,
  rec: ContainerRecord | undefined,
  now: Date,
  backoffBaseSeconds?: number,
): Promise<ContainerRecord> {
  const argv = argvOf(c);
  const env = podEnv(host, pod, record.podIP!, c);
  const started: ContainerRecord = { ...rec, starts: (rec?.starts ?? 0) + 1 };
  const missing = missingExecutable(argv[0]!, env.PATH ?? '');
  if (missing) {
    const at = now.toISOString();
    const exit = {
      exitCode: 128,
      reason: 'StartError',
      message: missing,
      startedAt: at,
      finishedAt: at,
    };
    return recordExit(started, exit, backoffBaseSeconds);
  }
  const id = containerProcessId(record.netns, c.name);
  const exitFile = exitFileOf(host, record, c.name);
  rmSync(exitFile, { force: true });
  await startProcess(host.labDir, {
    id,
    argv: withExitFile(exitFile, argv),
    netns: record.netns,
    env,
  });
  if (!record.processes.includes(id)) record.processes.push(id);
  return { ...started, startedAt: now.toISOString() };
}

/**
 * Runs the program under a shell that writes its exit status to a file when it ends, as a
 * runtime's shim does: the runner (not the program's parent, and perhaps restarted since)
 * can then report the exit code. A signal shows as 128 + its number, as the shell reports it.
 * The shell outlives the SIGTERM sent to the pod's process group (its trap runs only once the
 * program has ended; the program itself gets the signal as it is): otherwise the shell would
 * die at once, the stop would look done, and a program that takes its time to exit would be
 * killed without its grace period, its exit unrecorded.
 */
function withExitFile(exitFile: string, argv: string[]): string[] {
  const shim = 'trap : TERM; "$@"; code=$?; echo "$code" > "$0"; exit "$code"';
  return ['sh', '-c', shim, exitFile, ...argv];
}

/**
 * Calls `onExit` whenever a container's shim writes its exit file in this lab: the runner
 * reports a container that ended at once, as kubelet's event-driven PLEG does, instead of at
 * its next resync. Returns the function that stops watching.
 */
export function watchContainerExits(labDir: string, onExit: () => void): () => void {
  mkdirSync(podsDir(labDir), { recursive: true });
  const watcher = watch(podsDir(labDir), (_event, file) => {
    if (file?.endsWith('.exit')) onExit();
  });
  return () => watcher.close();
}

function exitFileOf(host: PodHost, record: PodRecord, container: string): string {
  return join(podsDir(host.labDir), `${record.netns}.${container}.exit`);
}

/** How the container ended: its exit file, or killed outright (SIGKILL to its group) if none. */
function readExit(
  host: PodHost,
  record: PodRecord,
  container: string,
  startedAt: string,
  now: Date,
): ContainerExit {
  const file = exitFileOf(host, record, container);
  try {
    const exitCode = Number(readFileSync(file, 'utf8').trim());
    const finishedAt = statSync(file).mtime.toISOString();
    rmSync(file, { force: true });
    return { exitCode, reason: exitReason(exitCode), startedAt, finishedAt };
  } catch {
    const at = now.toISOString();
    return {
      exitCode: 137,
      reason: 'Error',
      message: 'killed (no exit status was written)',
      startedAt,
      finishedAt: at,
    };
  }
}

/** Why `program` cannot be run with this PATH, as a runtime says it, or undefined if it can. */
function missingExecutable(program: string, path: string): string | undefined {
  const candidates = program.includes('/')
    ? [program]
    : path
        .split(':')
        .filter((d) => d !== '')
        .map((d) => join(d, program));
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return undefined;
    } catch {
      /* not this one */
    }
  }
  return program.includes('/')
    ? `exec: "${program}": no such executable file`
    : `exec: "${program}": executable file not found in $PATH`;
}

/**
 * The environment `lab exec` gives a command in a pod, like `kubectl exec` gives the
 * container's: the pod's identity, the lab's store and `podnet` on PATH.
 */
export function execEnv(record: PodRecord, labDir: string): NodeJS.ProcessEnv {
  const state = readLabState(labDir);
  return {
    ...process.env,
    PATH: `${repoBinDir()}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`,
    POD_NAME: record.name,
    POD_NAMESPACE: record.namespace,
    POD_IP: record.podIP ?? '',
    NODE_NAME: record.node,
    ...(state ? { PODNET_STORE: state.hostStoreUrl, PODNET_LAB: state.name } : {}),
  };
}
