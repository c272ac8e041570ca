// How many processes answer queries when `podnet dns` is not told, and how a worker that
// cannot go on stops them all.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

/** Most workers `podnet dns --workers` takes. */
export const MAX_WORKERS = 16;

/**
 * One answering process per core: a process answers from one thread, and most of its time is
 * the send system call, so cores are what adds queries per second.
 */
export function defaultWorkers(cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, MAX_WORKERS));
}

/**
 * The exit code of a worker that gave up (sysexits' EX_CONFIG): the supervisor stops instead
 * of starting another worker that would fail the same way.
 */
export const WORKER_GAVE_UP = 78;

/** Ends this process for a failure retrying cannot heal, and with workers the whole server. */
export function giveUp(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(cluster.isWorker ? WORKER_GAVE_UP : 1);
}
