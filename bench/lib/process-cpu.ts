// A process's CPU time, read from /proc: what a benchmark charges to a server whatever the
// machine's load does to its wall-clock figures.
import { readdirSync, readFileSync } from 'node:fs';

/** CPU ms a process has used so far, over all its threads (schedstat counts ns). */
export function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns / 1e6;
}
