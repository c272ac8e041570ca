// The lab's pod runner as kubelet runs pods: through containerd's CRI. For each Pod placed on
// its node it runs a sandbox (containerd then calls the CNI plugin), creates and starts the
// containers, and reports the sandbox's address; a pod deleted is torn down in kubelet's
// order, containers stopped, then the sandbox stopped (CNI DEL) and removed. One reconcile
// at a time, on every change and on a resync timer that also retries what failed.
import type { Pod } from '../api/types.js';
import { errorMessage } from '../util/errors.js';
import { serialRuns } from '../util/serial-runs.js';
import type { Logger } from '../util/log.js';
import type { CriClient, Sandbox } from './cri-client.js';
import {
  containerConfigs,
  containerStatusOf,
  latestAttempts,
  missingContainers,
  restartedConfig,
  sandboxActions,
  sandboxConfig,
  sandboxIP,
  type ClusterDns,
  type LabShare,
} from './cri-pods.js';
import {
  podStatus,
  statusUpToDate,
  type Kubelet,
  type PodRemover,
  type PodSource,
  type StatusWriter,
} from './kubelet.js';
import { runnerPods } from './runner-pods.js';
import { nextWake, restartPolicyOf, type ContainerRecord } from './containers.js';
import { restartStep } from './cri-restarts.js';
import { draining, isDraining } from './termination.js';

export interface CriHost {
  node: string;
  hostIP: string;
  dns: ClusterDns;
  /** Where containerd writes the containers' logs. */
  logDir: string;
  share: LabShare;
  /** The crash-loop back-off's first delay, when not kubelet's. */
  backoffBaseSeconds?: number;
  log: Logger;
}

function keyOf(p: Pod): string {
  return `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
}

function sandboxKey(s: Sandbox): string {
  return `${s.metadata.namespace}/${s.metadata.name}`;
}

/** kubelet's teardown: the containers, then the sandbox (its network), then its record. */
export async function removeSandbox(cri: CriClient, id: string): Promise<void> {
  for (const c of await cri.listContainers(id)) await cri.stopContainer(c.id, 0);
  await cri.stopPodSandbox(id);
  await cri.removePodSandbox(id);
}

async function runSandbox(cri: CriClient, host: CriHost, pod: Pod): Promise<string> {
  const config = sandboxConfig(
    pod,
    host.dns,
    `${host.logDir}/${pod.metadata.uid ?? pod.metadata.name}`,
  );
  const id = await cri.runPodSandbox(config);
  for (const c of containerConfigs(pod, host.share)) {
    const cid = await cri.createContainer(id, c, config);
    await cri.startContainer(cid);
  }
  return id;
}

/** What the runner remembers of each pod's containers, by pod uid and container name. */
type Restarts = Map<string, ContainerRecord>;

const restartKey = (pod: Pod, container: string): string =>
  `${pod.metadata.uid ?? ''}/${container}`;

/**
 * The status of a pod from its sandbox and containers; undefined while it has no address.
 * Containers never made are made now (their create failed on an earlier pass, the sandbox
 * stayed), and exited ones are restarted once their back-off is over.
 */
async function statusOf(
  cri: CriClient,
  host: CriHost,
  pod: Pod,
  sandbox: Sandbox,
  restarts: Restarts,
): Promise<NonNullable<Pod['status']> | undefined> {
  const podIP = sandboxIP(await cri.podSandboxStatus(sandbox.id));
  if (!podIP) return undefined;
  const config = sandboxConfig(
    pod,
    host.dns,
    `${host.logDir}/${pod.metadata.uid ?? pod.metadata.name}`,
  );
  const configs = containerConfigs(pod, host.share);
  const missing = missingContainers(pod, await cri.listContainers(sandbox.id));
  for (const c of configs.filter((c) => missing.includes(c.metadata.name))) {
    await cri.startContainer(await cri.createContainer(sandbox.id, c, config));
  }
  const latest = latestAttempts(
    await Promise.all((await cri.listContainers(sandbox.id)).map((c) => cri.containerStatus(c.id))),
  );
  const policy = restartPolicyOf(pod);
  const containers = [];
  for (const c of pod.spec.containers) {
    let status = latest.get(c.name);
    if (!status) continue;
    const key = restartKey(pod, c.name);
    let step = restartStep(restarts.get(key), status, policy, new Date(), host.backoffBaseSeconds);
    if (step.action === 'start') {
      const previous = status;
      const again = restartedConfig(
        configs.find((x) => x.metadata.name === c.name)!,
        previous,
      );
      const id = await cri.createContainer(sandbox.id, again, config);
      await cri.startContainer(id);
      // containerd keeps every attempt; the one replaced is of no further use.
      await cri.removeContainer(previous.id);
      status = await cri.containerStatus(id);
      step = restartStep(step.record, status, policy, new Date(), host.backoffBaseSeconds);
      host.log.info(
        { pod: keyOf(pod), container: c.name, restartCount: status.metadata.attempt },
        'container restarted',
      );
    }
    restarts.set(key, step.record);
    containers.push(containerStatusOf(status, step));
  }
  return podStatus({ podIP }, host.hostIP, containers);
}

export function startCriKubelet(
  cri: CriClient,
  host: CriHost,
  source: PodSource,
  writeStatus: StatusWriter,
  removePod: PodRemover,
  resyncMs = 5000,
): Kubelet {
  const log = host.log;
  let stopped = false;
  const restarts: Restarts = new Map();
  // Woken when the earliest back-off ends, so a restart is not held to the resync period.
  let wakeTimer: NodeJS.Timeout | undefined;
  const wakeAtNextRestart = (): void => {
    clearTimeout(wakeTimer);
    const t = nextWake([...restarts.values()]);
    if (t === undefined) return;
    wakeTimer = setTimeout(() => trigger(), Math.max(0, t - Date.now()) + 50);
  };

  // Woken when a deleted pod's preStop sleep ends, to tear it down then.
  let teardownTimer: NodeJS.Timeout | undefined;
  const terminatingSince = new Map<string, number>();
  const wakeForTeardown = (at: number | undefined): void => {
    clearTimeout(teardownTimer);
    if (at !== undefined) teardownTimer = setTimeout(() => trigger(), at - Date.now() + 50);
  };

  const reconcile = async (): Promise<void> => {
    const onNode = runnerPods(source.list(), host.node);
    const desired = onNode.filter((p) => p.metadata.deletionTimestamp === undefined);
    const terminating = onNode.filter((p) => p.metadata.deletionTimestamp !== undefined);
    const actions = sandboxActions(desired, await cri.listPodSandbox());
    const drain = draining(terminating, Date.now(), terminatingSince);
    wakeForTeardown(drain.nextTeardown);
    const removeNow = actions.remove.filter(
      (s) => !isDraining(drain, sandboxKey(s), s.metadata.uid),
    );
    for (const s of removeNow) {
      try {
        await removeSandbox(cri, s.id);
        log.info({ pod: sandboxKey(s), sandbox: s.id }, 'pod sandbox removed');
      } catch (err) {
        log.error({ pod: sandboxKey(s), err: errorMessage(err) }, 'pod sandbox removal failed');
      }
    }
    const left = new Set((await cri.listPodSandbox()).map(sandboxKey));
    for (const p of terminating.filter((p) => !left.has(keyOf(p)))) {
      try {
        await removePod(p);
        log.info({ pod: keyOf(p) }, 'pod deletion finished');
      } catch (err) {
        log.error({ pod: keyOf(p), err: errorMessage(err) }, 'pod deletion failed; will retry');
      }
    }
    for (const p of actions.run) {
      if (stopped) return;
      try {
        const id = await runSandbox(cri, host, p);
        log.info({ pod: keyOf(p), sandbox: id }, 'pod sandbox running');
      } catch (err) {
        log.error({ pod: keyOf(p), err: errorMessage(err) }, 'pod start failed; will retry');
      }
    }
    const ready = new Map(
      (await cri.listPodSandbox())
        .filter((s) => s.state === 'SANDBOX_READY')
        .map((s) => [sandboxKey(s), s]),
    );
    for (const p of desired) {
      const s = ready.get(keyOf(p));
      if (!s || s.metadata.uid !== (p.metadata.uid ?? '')) continue;
      try {
        const want = await statusOf(cri, host, p, s, restarts);
        if (!want || statusUpToDate(p, want)) continue;
        await writeStatus(p, want);
      } catch (err) {
        log.error({ pod: keyOf(p), err: errorMessage(err) }, 'status update failed');
      }
    }
    // Pods gone (or replaced under their name) take their containers' records with them.
    const uids = new Set(desired.map((p) => p.metadata.uid ?? ''));
    for (const key of restarts.keys()) {
      if (!uids.has(key.slice(0, key.lastIndexOf('/')))) restarts.delete(key);
    }
    wakeAtNextRestart();
  };

  // containerd itself not answering (restarting, say): the next resync tries again.
  const runs = serialRuns(reconcile, (err) =>
    log.warn({ err: errorMessage(err) }, 'containerd did not answer; will retry'),
  );
  const trigger = runs.trigger;
  const timer = setInterval(trigger, resyncMs);
  // Never reconcile against a partial list: a pod not yet seen would look deleted.
  void source.synced.then(() => runs.open());
  return {
    trigger,
    idle: runs.idle,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      clearTimeout(wakeTimer);
      clearTimeout(teardownTimer);
      await runs.stop();
      await source.stop();
      cri.close();
    },
  };
}
