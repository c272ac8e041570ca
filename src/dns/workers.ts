// How many processes answer queries when `podnet dns` is not told.
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
