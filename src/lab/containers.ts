// What the pod runner decides about one container of a running pod, as kubelet does: start it,
// leave it running, or wait out its crash-loop back-off; and the status Kubernetes reports for
// it. Pure: the runner reads the process table and exit files, then acts on the decision.
import type { Container, ContainerState, ContainerStatus, Pod } from '../api/types.js';

/** kubelet's crash-loop back-off: 10 s, doubling, at most 5 min, forgotten after 10 min running. */
export const BACKOFF = { baseSeconds: 10, maxSeconds: 300, resetAfterSeconds: 600 } as const;

/** How a container ended: its exit code, and when (for the back-off and `lastState`). */
export interface ContainerExit {
  exitCode: number;
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt: string;
}

/** What the runner remembers of a container across reconciles and its own restarts. */
export interface ContainerRecord {
  /** How many times it was started (the first start is not a restart). */
  starts: number;
  /** When the process now running was started; absent while it is not running. */
  startedAt?: string;
  last?: ContainerExit;
  /** The back-off delay after the last exit, and the time before which it is not started. */
  backoffSeconds?: number;
  backoffUntil?: string;
}

export type ContainerAction = 'start' | 'wait' | 'none';

export function argvOf(c: Container): string[] {
  return [...(c.command ?? []), ...(c.args ?? [])];
}

/** `Always` (the default) restarts any exit, `OnFailure` a non-zero one, `Never` none. */
export function wantsRestart(policy: string | undefined, exitCode: number): boolean {
  if (policy === 'Never') return false;
  if (policy === 'OnFailure') return exitCode !== 0;
  return true;
}

/** The reason Kubernetes gives a terminated container: `Completed` for exit 0, else `Error`. */
export function exitReason(exitCode: number): string {
  return exitCode === 0 ? 'Completed' : 'Error';
}

/**
 * The container has just exited (or failed to start): remember how, and from when it may be
 * started again. The delay doubles with each exit unless it had run long enough to be
 * considered healthy again.
 */
export function recordExit(
  rec: ContainerRecord,
  exit: ContainerExit,
  baseSeconds: number = BACKOFF.baseSeconds,
): ContainerRecord {
  const ranSeconds = exit.startedAt
    ? (Date.parse(exit.finishedAt) - Date.parse(exit.startedAt)) / 1000
    : 0;
  const fresh = rec.backoffSeconds === undefined || ranSeconds >= BACKOFF.resetAfterSeconds;
  const delay = fresh
    ? baseSeconds
    : Math.min(rec.backoffSeconds! * 2, Math.max(BACKOFF.maxSeconds, baseSeconds));
  const until = new Date(Date.parse(exit.finishedAt) + delay * 1000).toISOString();
  const next: ContainerRecord = { ...rec, last: exit, backoffSeconds: delay, backoffUntil: until };
  delete next.startedAt;
  return next;
}

/** What to do now with a container that is not running. */
export function nextAction(
  rec: ContainerRecord | undefined,
  policy: string | undefined,
  now: Date,
): ContainerAction {
  if (!rec || rec.starts === 0) return 'start';
  if (rec.last && !wantsRestart(policy, rec.last.exitCode)) return 'none';
  if (rec.backoffUntil && Date.parse(rec.backoffUntil) > now.getTime()) return 'wait';
  return 'start';
}

function terminatedState(exit: ContainerExit): ContainerState {
  return { terminated: { ...exit } };
}

/**
 * The status Kubernetes reports for one container. `probedReady` is its readiness probe's
 * verdict, for a running container that has one: such a container is Ready only once it says so.
 */
export function containerStatus(
  c: Container,
  rec: ContainerRecord | undefined,
  running: boolean,
  podKey: { namespace: string; name: string; uid?: string },
  policy: string | undefined,
  noCommandMessage: string,
  probedReady?: boolean,
): ContainerStatus {
  const restartCount = Math.max(0, (rec?.starts ?? 0) - 1);
  const base = {
    name: c.name,
    // Kubernetes always reports both (client libraries refuse a status without them); the lab
    // runs the machine's own programs, so there is no image to identify.
    image: c.image ?? '',
    imageID: '',
    restartCount,
    ...(rec?.last ? { lastState: terminatedState(rec.last) } : {}),
  };
  if (argvOf(c).length === 0) {
    return {
      ...base,
      state: { waiting: { reason: 'NoCommand', message: noCommandMessage } },
      ready: false,
      started: false,
    };
  }
  if (running && rec?.startedAt) {
    return {
      ...base,
      state: { running: { startedAt: rec.startedAt } },
      ready: probedReady ?? true,
      started: true,
    };
  }
  if (!rec?.last) {
    return { ...base, state: { waiting: { reason: 'ContainerCreating' } }, ready: false };
  }
  if (!wantsRestart(policy, rec.last.exitCode)) {
    // Finished for good: reported as its last state, not as a restart.
    const ended: ContainerStatus = { ...base, state: terminatedState(rec.last), ready: false };
    delete ended.lastState;
    return { ...ended, started: false };
  }
  const pod = `${podKey.name}_${podKey.namespace}(${podKey.uid ?? ''})`;
  return {
    ...base,
    state: {
      waiting: {
        reason: 'CrashLoopBackOff',
        message: `back-off ${rec.backoffSeconds ?? BACKOFF.baseSeconds}s restarting failed container=${c.name} pod=${pod}`,
      },
    },
    ready: false,
    started: false,
  };
}

/** Why a container with an image and no command runs nothing in the lab. */
export function noCommandMessage(c: Container): string {
  const image = c.image ? `image ${c.image} is not pulled or run` : 'there is no image';
  return `container ${c.name} runs nothing: the lab runs commands on the host's filesystem and ${image}; give it a command`;
}

/** The earliest time a waiting container may start again, to wake the runner then. */
export function nextWake(records: readonly (ContainerRecord | undefined)[]): number | undefined {
  const times = records
    .map((r) => (r?.startedAt === undefined && r?.backoffUntil ? Date.parse(r.backoffUntil) : NaN))
    .filter((t) => !Number.isNaN(t));
  return times.length > 0 ? Math.min(...times) : undefined;
}

/** The restart policy of a pod (`Always` when unset). */
export function restartPolicyOf(pod: Pod): string {
  return (pod.spec as { restartPolicy?: string }).restartPolicy ?? 'Always';
}
