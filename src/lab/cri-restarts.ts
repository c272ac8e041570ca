// Restarting a pod's exited containers under containerd as the lab's own runner does, with
// kubelet's crash-loop back-off: the same records and decisions (containers.ts), fed from what
// the CRI reports. containerd keeps each run as a container of its own, numbered by
// `metadata.attempt`; a restart is a new container with the next attempt.
import type { ContainerStatus as CriContainerStatus } from './cri-client.js';
import {
  nextAction,
  recordExit,
  type ContainerAction,
  type ContainerExit,
  type ContainerRecord,
} from './containers.js';

/** CRI times are nanoseconds since the epoch, as decimal strings. */
export function criTime(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

/** How an exited CRI container ended, as the runner's records keep it. */
export function criExit(c: CriContainerStatus): ContainerExit {
  return {
    exitCode: c.exit_code,
    reason: c.reason || (c.exit_code === 0 ? 'Completed' : 'Error'),
    ...(c.message ? { message: c.message } : {}),
    ...(c.started_at !== '0' ? { startedAt: criTime(c.started_at) } : {}),
    finishedAt: criTime(c.finished_at),
  };
}

export interface RestartStep {
  record: ContainerRecord;
  action: ContainerAction;
}

/**
 * What to do with a pod's container, given the status of its latest attempt and what the
 * runner remembers of it: an exit seen for the first time starts (or doubles) the back-off,
 * and the container is started again once the back-off is over and the restart policy wants
 * it. A runner that restarted has forgotten earlier exits, so its first delay is the base one.
 */
export function restartStep(
  rec: ContainerRecord | undefined,
  latest: CriContainerStatus,
  policy: string | undefined,
  now: Date,
  baseSeconds?: number,
): RestartStep {
  const starts = latest.metadata.attempt + 1;
  if (latest.state === 'CONTAINER_RUNNING') {
    return {
      record: { ...rec, starts, startedAt: criTime(latest.started_at) },
      action: 'none',
    };
  }
  if (latest.state !== 'CONTAINER_EXITED') return { record: { ...rec, starts }, action: 'none' };
  const exit = criExit(latest);
  const seen = rec?.starts === starts && rec.last?.finishedAt === exit.finishedAt;
  const record = seen ? rec : recordExit({ ...rec, starts }, exit, baseSeconds);
  return { record, action: nextAction(record, policy, now) };
}
