// What the trace and doctor tests do to a lab: run `podnet trace`/`podnet doctor` as JSON, run a
// shell command on a host, and freeze a host's own processes so that its agent's periodic repair
// cannot race a fault made by hand.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Hop } from '../../src/diagnose/trace.js';
import type { Verdict } from '../../src/diagnose/doctor.js';
import { podnet } from './lab.js';

export interface TraceOut {
  hops: Hop[];
  verdict: { ok: boolean; text: string };
}

/** `podnet --lab LAB trace ARGS -o json`: its exit status and the path it printed. */
export function traceJson(lab: string, args: string[]): { status: number | null; out: TraceOut } {
  const r = podnet(['--lab', lab, 'trace', ...args, '-o', 'json']);
  assert.notEqual(r.stdout, '', r.stderr);
  return { status: r.status, out: JSON.parse(r.stdout) as TraceOut };
}

/** `podnet --lab LAB doctor --node NODE -o json`: its exit status and the checks that failed. */
export function doctorJson(
  lab: string,
  node: string,
): { status: number | null; failed: Verdict[] } {
  const r = podnet(['--lab', lab, 'doctor', '--node', node, '-o', 'json']);
  assert.notEqual(r.stdout, '', r.stderr);
  const { verdicts } = JSON.parse(r.stdout) as { verdicts: Verdict[] };
  return { status: r.status, failed: verdicts.filter((v) => !v.ok) };
}

/** The network namespace of a lab's host. */
export function hostNs(lab: string, node: string): string {
  return `${lab}-${node}`;
}

/** Runs `cmd` with sh inside the host's namespace. */
export function hostSh(lab: string, node: string, cmd: string): void {
  execFileSync('ip', ['netns', 'exec', hostNs(lab, node), 'sh', '-c', cmd], { stdio: 'pipe' });
}

/** Stops (SIGSTOP) or resumes (SIGCONT) every process in the host's namespace. */
export function freezeHost(lab: string, node: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
  const pids = execFileSync('ip', ['netns', 'pids', hostNs(lab, node)], { encoding: 'utf8' });
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), signal);
    } catch (err) {
      // A short-lived program (an agent's `ip` or `ethtool`) may end between listing and signal.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/**
 * Runs `fn` with the hosts' processes frozen and `breakIt` applied on the first of them; then
 * applies `mendIt` (when given) and resumes the hosts, whatever `fn` did.
 */
export async function withFault<T>(
  lab: string,
  nodes: string[],
  breakIt: string,
  mendIt: string,
  fn: () => T | Promise<T>,
): Promise<T> {
  for (const n of nodes) freezeHost(lab, n, 'SIGSTOP');
  try {
    hostSh(lab, nodes[0]!, breakIt);
    return await fn();
  } finally {
    if (mendIt) hostSh(lab, nodes[0]!, mendIt);
    for (const n of nodes) freezeHost(lab, n, 'SIGCONT');
  }
}
