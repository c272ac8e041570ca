// Starting and signalling long-running processes, optionally inside a network namespace.
// A process is identified by pid *and* start time, so a reused pid is never mistaken for it.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { ipBytes, parseIPv4 } from '../net/index.js';
import { OperationError } from '../util/errors.js';
import { inNetns } from './run.js';

export interface DetachedSpec {
  argv: string[];
  /**
   * Run inside this named network namespace through `ip netns exec`, which also bind-mounts
   * `/etc/netns/<netns>/*` over /etc (a pod's resolv.conf). It execs, so the pid is the program's.
   */
  netns?: string;
  /**
   * `nsenter` joins only the network namespace and stays in the caller's mount namespace:
   * needed by a process that itself creates named namespaces (`ip netns add` mounts under
   * /run/netns, which must be seen machine-wide).
   */
  enter?: 'ip-netns-exec' | 'nsenter';
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Open descriptors handed to the process as fd 3, 4, ... (e.g. a listening socket). */
  fds?: number[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ProcessIdentity {
  pid: number;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  startTime: number;
}

/** Starts a process in its own session, detached from the caller (it outlives it). */
export async function spawnDetached(spec: DetachedSpec): Promise<ProcessIdentity> {
  const argv = !spec.netns
    ? spec.argv
    : spec.enter === 'nsenter'
      ? inNetns(spec.netns, spec.argv)
      : ['ip', 'netns', 'exec', spec.netns, ...spec.argv];
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), {
      detached: true,
      stdio: ['ignore', fd, fd, ...(spec.fds ?? [])],
      env: spec.env ?? process.env,
      cwd: spec.cwd,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (e) =>
        reject(new OperationError(`could not start ${spec.argv[0]}: ${e.message}`, { cause: e })),
      );
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    const startTime = processStartTime(pid);
    if (startTime === undefined) {
      throw new OperationError(`${spec.argv.join(' ')} exited at once (see ${spec.logFile})`);
    }
    return { pid, startTime };
  } finally {
    closeSync(fd);
  }
}

/** The start time of a live (non-zombie) process, or undefined when there is none. */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return Number(fields[19]);
}

export function isRunning(p: ProcessIdentity): boolean {
  return processStartTime(p.pid) === p.startTime;
}

/** Signals the process group the process leads (it was started in its own session). */
export function signalGroup(p: ProcessIdentity, signal: NodeJS.Signals): void {
  if (!isRunning(p)) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    try {
      process.kill(p.pid, signal);
    } catch {
      /* exited meanwhile */
    }
  }
}

export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* exited meanwhile */
  }
}

/**
 * True if the network namespace of `pid` has a TCP socket listening on `host:port`
 * (read from /proc/<pid>/net/tcp, which shows that process's namespace: no extra process).
 */
export function listensOnTcp(pid: number, hostPort: string): boolean {
  const i = hostPort.lastIndexOf(':');
  const octets = ipBytes(parseIPv4(hostPort.slice(0, i)));
  const port = Number(hostPort.slice(i + 1));
  // /proc/net/tcp prints the address as little-endian hex and the port as big-endian hex.
  const hex = (n: number, width: number): string =>
    n.toString(16).toUpperCase().padStart(width, '0');
  const want = `${octets
    .reverse()
    .map((o) => hex(o, 2))
    .join('')}:${hex(port, 4)}`;
  const wildcard = `00000000:${hex(port, 4)}`;
  let table: string;
  try {
    table = readFileSync(`/proc/${pid}/net/tcp`, 'utf8');
  } catch {
    return false;
  }
  for (const line of table.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols[3] === '0A' && (cols[1] === want || cols[1] === wildcard)) return true;
  }
  return false;
}

/**
 * Runs a command in a named network namespace with the caller's terminal (`ip netns exec`, so
 * the namespace's /etc/netns files such as resolv.conf apply). Returns its exit code; a
 * signal becomes 128 + its number, as a shell reports it.
 */
export function execInNetns(netns: string, argv: string[], env?: NodeJS.ProcessEnv): number {
  const r = spawnSync('ip', ['netns', 'exec', netns, ...argv], { stdio: 'inherit', env });
  if (r.error) throw new OperationError(`could not run ${argv[0]}: ${r.error.message}`);
  if (r.status !== null) return r.status;
  const signo = r.signal ? (osConstants.signals[r.signal] ?? 0) : 0;
  return 128 + signo;
}
