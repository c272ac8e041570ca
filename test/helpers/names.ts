// Unique names for what integration tests create on the machine, and the sweep of what a
// killed run left behind. A name carries the test process's pid (base 36): leftovers are
// exactly the `pnt-*` names whose pid is no longer alive, so concurrent runs never sweep
// each other's namespaces.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

const RUN = process.pid.toString(36);

/** `pnt-<pid36>-<rand>-<suffix>`: unique on this machine, and sweepable once this process dies. */
export function uniqueName(suffix = ''): string {
  const rand = randomBytes(2).toString('hex');
  return `pnt-${RUN}-${rand}${suffix ? `-${suffix}` : ''}`;
}

/** A short unique token for names with a length limit (lab names, interface names). */
export function shortToken(): string {
  return `${RUN}${randomBytes(1).toString('hex')}`.slice(-6);
}

/** The pid of the test process a `pnt-*` name belongs to; undefined for any other name. */
export function ownerPidOf(name: string): number | undefined {
  const m = /^pnt-([0-9a-z]+)-/.exec(name);
  return m ? parseInt(m[1]!, 36) : undefined;
}

/** Whether process `pid` exists (EPERM: it does, but is not ours to signal). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `pnt-*` namespaces (and the processes in them) whose owning test process is gone. */
export function sweepStaleNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const swept: string[] = [];
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const owner = ownerPidOf(name);
    if (owner === undefined || processAlive(owner)) continue;
    deleteNamespace(name);
    swept.push(name);
  }
  return swept;
}

/** Kills every process in the namespace, then removes it. Succeeds when it is already gone. */
export function deleteNamespace(name: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
    for (const pid of pids.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  } catch {
    /* namespace already gone */
  }
  try {
    execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
  } catch {
    /* already gone */
  }
}
