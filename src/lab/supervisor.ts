// Supervised processes of a lab: each one runs detached (it outlives whoever started it),
// with a record `procs/<id>.json` (pid, start time, command, namespace) and a log
// `logs/<id>.log` under the lab directory. Stopping acts on exactly the recorded processes.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, signalGroup, spawnDetached, type ProcessIdentity } from '../process/daemons.js';
import { pollUntil } from './wait.js';

export interface ProcessRecord extends ProcessIdentity {
  /** `agent-node-1`, `kubelet-node-1`, `pod-<netns>-<container>`: also the file names. */
  id: string;
  argv: string[];
  netns?: string;
  /** How `netns` was entered, so that the process can be started again the same way. */
  enter?: StartSpec['enter'];
  cwd?: string;
  log: string;
  startedAt: string;
}

export interface StartSpec {
  id: string;
  argv: string[];
  netns?: string;
  /** How to enter `netns` (see spawnDetached); default `ip netns exec`. */
  enter?: 'ip-netns-exec' | 'nsenter';
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Open descriptors handed over as fd 3, 4, ... */
  fds?: number[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function procsDir(labDir: string): string {
  return join(labDir, 'procs');
}

export function logsDir(labDir: string): string {
  return join(labDir, 'logs');
}

export function logFile(labDir: string, id: string): string {
  return join(logsDir(labDir), `${id}.log`);
}

export async function startProcess(labDir: string, spec: StartSpec): Promise<ProcessRecord> {
  if (!ID.test(spec.id)) throw new Error(`bad process id ${JSON.stringify(spec.id)}`);
  mkdirSync(procsDir(labDir), { recursive: true });
  mkdirSync(logsDir(labDir), { recursive: true });
  const log = logFile(labDir, spec.id);
  const identity = await spawnDetached({
    argv: spec.argv,
    netns: spec.netns,
    enter: spec.enter,
    logFile: log,
    env: spec.env,
    cwd: spec.cwd,
    fds: spec.fds,
  });
  const record: ProcessRecord = {
    id: spec.id,
    ...identity,
    argv: spec.argv,
    ...(spec.netns ? { netns: spec.netns } : {}),
    ...(spec.enter ? { enter: spec.enter } : {}),
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
    log,
    startedAt: new Date().toISOString(),
  };
  const file = join(procsDir(labDir), `${spec.id}.json`);
  // Write then rename: a reader never sees half a record.
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record)}\n`);
  renameSync(`${file}.tmp`, file);
  return record;
}

export function listProcesses(labDir: string): ProcessRecord[] {
  let names: string[];
  try {
    names = readdirSync(procsDir(labDir));
  } catch {
    return [];
  }
  const records: ProcessRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
    try {
      records.push(JSON.parse(readFileSync(join(procsDir(labDir), name), 'utf8')) as ProcessRecord);
    } catch {
      /* removed meanwhile */
    }
  }
  return records;
}

export function findProcess(labDir: string, id: string): ProcessRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(procsDir(labDir), `${id}.json`), 'utf8')) as ProcessRecord;
  } catch {
    return undefined;
  }
}

/**
 * Stops the given processes: SIGTERM to each one's process group, then SIGKILL to whatever is
 * still running after `graceMs`. Their records are removed; logs stay until the lab goes.
 */
export async function stopProcesses(
  labDir: string,
  records: ProcessRecord[],
  graceMs = 5000,
): Promise<void> {
  for (const r of records) signalGroup(r, 'SIGTERM');
  const stopped = await pollUntil(
    () => (records.every((r) => !isRunning(r)) ? true : undefined),
    graceMs,
  );
  if (!stopped) {
    for (const r of records) signalGroup(r, 'SIGKILL');
    await pollUntil(() => (records.every((r) => !isRunning(r)) ? true : undefined), 5000);
  }
  for (const r of records) rmSync(join(procsDir(labDir), `${r.id}.json`), { force: true });
}
