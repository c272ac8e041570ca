// The lab's pod runner (kubelet-like), one per host: follows the Pod objects placed on its
// node, creates and removes pods (src/lab/pods.ts) to match, and reports each pod's status.
// Deciding what to do is pure (podActions, runningStatus); one reconcile runs at a time, on
// every change, when a container exits, on a resync timer that also retries what failed, and
// when a crash-looping container's back-off ends.
import type { ContainerStatus, Pod } from '../api/types.js';
import { errorMessage } from '../util/errors.js';
import { serialRuns } from '../util/serial-runs.js';
import { nextWake } from './containers.js';
import {
  listPodRecords,
  podKey,
  startPod,
  stopPod,
  syncContainers,
  watchContainerExits,
  type PodHost,
  type PodRecord,
} from './pods.js';
import { runnerPods } from './runner-pods.js';
import { podIPsOf } from './cni-runtime.js';
import { ReadinessProber, type ProbedContainer } from './prober.js';
import { draining, isDraining } from './termination.js';

/** The cluster's pods as the runner sees them (an informer's cache in practice). */
export interface PodSource {
  readonly synced: Promise<void>;
  list(): Pod[];
  stop(): Promise<void>;
}

/** Writes a pod's status (compare-and-swap in the store). */
export type StatusWriter = (pod: Pod, status: NonNullable<Pod['status']>) => Promise<void>;

/** Ends a pod's graceful deletion once it is torn down: removes the object (if still that pod). */
export type PodRemover = (pod: Pod) => Promise<void>;

export interface PodActions {
  start: Pod[];
  stop: PodRecord[];
}

function keyOfPod(p: Pod): string {
  return podKey(p.metadata.namespace ?? 'default', p.metadata.name);
}

/**
 * What to change so that the pods on the host are the pods of the node: a record with no
 * pod, a pod replaced under the same name (new uid), and a pod left half-made (no IP yet, by
 * a runner killed midway) are removed; desired pods without a live record are started.
 */
export function podActions(desired: readonly Pod[], records: readonly PodRecord[]): PodActions {
  const want = new Map(desired.map((p) => [keyOfPod(p), p]));
  const stop: PodRecord[] = [];
  const kept = new Set<string>();
  for (const r of records) {
    const key = podKey(r.namespace, r.name);
    const pod = want.get(key);
    const replaced = pod?.metadata.uid !== undefined && r.uid !== '' && pod.metadata.uid !== r.uid;
    if (!pod || replaced || !r.podIP) stop.push(r);
    else kept.add(key);
  }
  const start = [...want.entries()].filter(([k]) => !kept.has(k)).map(([, p]) => p);
  return { start, stop };
}

/**
 * Pods being deleted whose teardown is done: no record of them is left on the host, so their
 * objects can go (and a pod never started here has nothing to tear down).
 */
export function tornDown(terminating: readonly Pod[], records: readonly PodRecord[]): Pod[] {
  const left = new Set(records.map((r) => podKey(r.namespace, r.name)));
  return terminating.filter((p) => !left.has(keyOfPod(p)));
}

/**
 * The status of a pod whose network is up, from its containers' statuses: Running while any
 * container runs or will be restarted, Succeeded or Failed once all have ended for good; Ready
 * only when every container runs.
 */
export function podStatus(
  record: Pick<PodRecord, 'podIP' | 'result'>,
  hostIP: string,
  containers: ContainerStatus[],
): NonNullable<Pod['status']> {
  const unready = containers.filter((c) => !c.ready).map((c) => c.name);
  const ended = containers.map((c) => c.state.terminated).filter((t) => t !== undefined);
  const phase =
    ended.length === containers.length && containers.length > 0
      ? ended.every((t) => t.exitCode === 0)
        ? 'Succeeded'
        : 'Failed'
      : 'Running';
  const ready = unready.length === 0;
  const notReady = {
    reason: 'ContainersNotReady',
    message: `containers with unready status: [${unready.join(' ')}]`,
  };
  const readiness = ready ? { status: 'True' as const } : { status: 'False' as const, ...notReady };
  const noCommand = containers
    .map((c) => (c.state.waiting?.reason === 'NoCommand' ? c.state.waiting.message : undefined))
    .filter((m) => m !== undefined);
  return {
    phase,
    podIP: record.podIP,
    podIPs: (record.result ? podIPsOf(record.result) : [record.podIP!]).map((ip) => ({ ip })),
    hostIP,
    ...(noCommand.length > 0 ? { message: noCommand.join('; ') } : {}),
    conditions: [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Initialized', status: 'True' },
      { type: 'ContainersReady', ...readiness },
      { type: 'Ready', ...readiness },
    ],
    containerStatuses: containers,
  };
}

/** True when the stored status already says everything `want` says. */
export function statusUpToDate(pod: Pod, want: NonNullable<Pod['status']>): boolean {
  const s = pod.status;
  if (!s) return false;
  const keys = Object.keys(want) as (keyof typeof want)[];
  return (
    keys.every((k) => JSON.stringify(s[k]) === JSON.stringify(want[k])) &&
    (want.message !== undefined || s.message === undefined)
  );
}

export interface Kubelet {
  /** Asks for a reconcile (coalesced with one already running). */
  trigger(): void;
  /** Resolves once no reconcile is running or asked for. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

export function startKubelet(
  host: PodHost,
  source: PodSource,
  writeStatus: StatusWriter,
  removePod: PodRemover,
  resyncMs = 5000,
  backoffBaseSeconds?: number,
): Kubelet {
  const log = host.log;
  let stopped = false;
  // Woken when the earliest back-off ends, so a restart is not held to the resync period.
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeTime: number | undefined;
  const wakeAt = (r: PodRecord): void => {
    const t = nextWake(Object.values(r.containers ?? {}));
    if (t === undefined || (wakeTime !== undefined && wakeTime > Date.now() && wakeTime <= t))
      return;
    clearTimeout(wakeTimer);
    wakeTime = t;
    wakeTimer = setTimeout(
      () => {
        wakeTime = undefined;
        trigger();
      },
      Math.max(0, t - Date.now()) + 50,
    );
  };

  // Woken when a deleted pod's preStop sleep ends, to tear it down then.
  let teardownTimer: NodeJS.Timeout | undefined;
  const terminatingSince = new Map<string, number>();
  const wakeForTeardown = (at: number | undefined): void => {
    clearTimeout(teardownTimer);
    if (at !== undefined) teardownTimer = setTimeout(() => trigger(), at - Date.now() + 50);
  };

  const prober = new ReadinessProber(() => trigger());
  const reconcile = async (): Promise<void> => {
    const probed: ProbedContainer[] = [];
    const readiness = (c: ProbedContainer): boolean => {
      probed.push(c);
      return prober.ready(c.key);
    };
    const onNode = runnerPods(source.list(), host.node);
    // A pod with a deletionTimestamp is no longer wanted: torn down like a deleted one, then
    // its object removed here, so that it is gone only once its host has let go of it.
    const desired = onNode.filter((p) => p.metadata.deletionTimestamp === undefined);
    const terminating = onNode.filter((p) => p.metadata.deletionTimestamp !== undefined);
    const records = listPodRecords(host.labDir).filter((r) => r.node === host.node);
    const actions = podActions(desired, records);
    const drain = draining(terminating, Date.now(), terminatingSince);
    wakeForTeardown(drain.nextTeardown);
    const stopNow = actions.stop.filter(
      (r) => !isDraining(drain, podKey(r.namespace, r.name), r.uid),
    );
    for (const r of stopNow) {
      try {
        await stopPod(host, r);
        log.info({ pod: podKey(r.namespace, r.name), netns: r.netns }, 'pod removed');
      } catch (err) {
        log.error(
          { pod: podKey(r.namespace, r.name), err: errorMessage(err) },
          'pod removal failed',
        );
      }
    }
    const left = listPodRecords(host.labDir).filter((r) => r.node === host.node);
    for (const p of tornDown(terminating, left)) {
      try {
        await removePod(p);
        log.info({ pod: keyOfPod(p) }, 'pod deletion finished');
      } catch (err) {
        log.error({ pod: keyOfPod(p), err: errorMessage(err) }, 'pod deletion failed; will retry');
      }
    }
    for (const p of actions.start) {
      if (stopped) return;
      try {
        const r = await startPod(host, p);
        log.info({ pod: keyOfPod(p), netns: r.netns, podIP: r.podIP }, 'pod started');
      } catch (err) {
        log.error({ pod: keyOfPod(p), err: errorMessage(err) }, 'pod start failed; will retry');
      }
    }
    const live = new Map(
      listPodRecords(host.labDir)
        .filter((r) => r.node === host.node && r.podIP)
        .map((r) => [podKey(r.namespace, r.name), r]),
    );
    for (const p of desired) {
      const r = live.get(keyOfPod(p));
      if (!r) continue;
      let want: NonNullable<Pod['status']>;
      try {
        const containers = await syncContainers(
          host,
          p,
          r,
          new Date(),
          backoffBaseSeconds,
          readiness,
        );
        want = podStatus(r, host.hostIP, containers);
      } catch (err) {
        log.error({ pod: keyOfPod(p), err: errorMessage(err) }, 'container start failed');
        continue;
      }
      wakeAt(r);
      if (statusUpToDate(p, want)) continue;
      try {
        await writeStatus(p, want);
      } catch (err) {
        log.error({ pod: keyOfPod(p), err: errorMessage(err) }, 'status update failed');
      }
    }
    prober.track(probed);
  };

  const runs = serialRuns(reconcile, (err) =>
    log.error({ err: errorMessage(err) }, 'pod runner pass failed; will retry'),
  );
  const trigger = runs.trigger;
  const timer = setInterval(trigger, resyncMs);
  const stopWatchingExits = watchContainerExits(host.labDir, trigger);
  // Never reconcile against a partial list: before the first full list, a pod not yet seen
  // would look deleted and be removed.
  void source.synced.then(() => runs.open());

  return {
    trigger,
    idle: runs.idle,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      prober.stop();
      clearTimeout(wakeTimer);
      clearTimeout(teardownTimer);
      stopWatchingExits();
      await runs.stop();
      await source.stop();
    },
  };
}
