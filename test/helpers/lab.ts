// Labs for integration tests: unique short names (`pnt-<pid36>-<rand>`, so the namespace sweep
// of names.ts recognises them too), `podnet lab` run as a user would, and the sweep of labs
// whose owning test process is gone.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ownerPidOf, processAlive, sweepStaleNamespaces, uniqueName } from './names.js';
import type { Pod } from '../../src/api/types.js';
import type { LabState } from '../../src/lab/state.js';
import { execEnv, findPodRecord } from '../../src/lab/pods.js';

export const PODNET = new URL('../../../bin/podnet', import.meta.url).pathname;
/** The demo's manifest: 3 echo pods behind a service, and a client. */
export const DEMO_MANIFEST = new URL('../../../examples/demo.yaml', import.meta.url).pathname;
export const LABS_DIR = process.env.PODNET_LABS_DIR ?? '/run/podnet/labs';

/** A lab name for a test: unique on this machine, at most 15 characters. */
export function testLabName(): string {
  return uniqueName();
}

/** Removes what test runs that are gone left behind: their labs, then their namespaces. */
export function sweepLeftovers(): void {
  sweepStaleLabs();
  sweepStaleNamespaces();
}

/** Runs `bin/podnet ARGS` with this test process as the owner of any lab it makes. */
export function podnet(
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): SpawnSyncReturns<string> {
  return spawnSync(PODNET, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 120_000,
    env: { ...process.env, PODNET_LAB_OWNER_PID: String(process.pid) },
  });
}

/** Runs `bin/podnet ARGS` and fails with its stderr unless it exits 0. */
export function podnetOk(
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): string {
  const r = podnet(args, opts);
  if (r.status !== 0) {
    throw new Error(`podnet ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}

/**
 * `podnet lab up` with `flags`. A test that names no family gets an IPv4-only lab, as it was
 * written for: `lab up`'s own default is dual-stack, which costs every lab a few seconds more.
 */
export function labUp(name: string, flags: string[] = []): LabState {
  const family = flags.includes('--ip-family') ? [] : ['--ip-family', 'ipv4'];
  podnetOk(['lab', 'up', '--name', name, ...family, ...flags]);
  return readLab(name)!;
}

export function labDown(name: string): void {
  podnetOk(['lab', 'down', '--name', name]);
}

export function readLab(name: string): LabState | undefined {
  const file = join(LABS_DIR, name, 'lab.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LabState) : undefined;
}

/** Brings a lab up for `fn` and always takes it down again. */
export async function withLab<T>(
  flags: string[],
  fn: (lab: LabState) => Promise<T> | T,
): Promise<T> {
  const name = testLabName();
  try {
    return await fn(labUp(name, flags));
  } finally {
    labDown(name);
  }
}

/**
 * Takes down test labs (`pnt-*`) whose owner process is gone: what a killed run left behind.
 * A live run's labs are never touched.
 */
export function sweepStaleLabs(): string[] {
  const names = safeReaddir(LABS_DIR);
  const swept: string[] = [];
  // /etc/netns dirs of pods whose lab is gone (the namespaces go with sweepStaleNamespaces).
  for (const dir of safeReaddir('/etc/netns')) {
    const owner = ownerPidOf(dir);
    if (owner !== undefined && !processAlive(owner))
      rmSync(join('/etc/netns', dir), { recursive: true, force: true });
  }
  for (const name of names) {
    const namedOwner = ownerPidOf(name);
    if (namedOwner === undefined) continue;
    if (processAlive(readLab(name)?.ownerPid ?? namedOwner)) continue;
    podnet(['lab', 'down', '--name', name]);
    swept.push(name);
  }
  return swept;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The root namespace's interfaces, addresses and routes, to check that the lab changed none
 * of them (BRIEF: the machine's own network is never touched).
 */
export function rootNetwork(): { links: string[]; addresses: string[]; routes: string[] } {
  const json = <T>(args: string[]): T =>
    JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' })) as T;
  const links = json<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname);
  const addresses = json<{ ifname: string; addr_info: { local: string; prefixlen: number }[] }[]>([
    'addr',
    'show',
  ]).flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`));
  const routes = json<{ dst: string; gateway?: string; dev?: string }[]>(['route', 'show']).map(
    (r) => `${r.dst} ${r.gateway ?? ''} ${r.dev ?? ''}`,
  );
  return { links: links.sort(), addresses: addresses.sort(), routes: routes.sort() };
}

/** A Pod manifest running `podnet serve-echo --port 8080` in `default` on `node`. */
export function echoPodYaml(name: string, node: string, address?: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${name}`,
    '  namespace: default',
    'spec:',
    `  nodeName: ${node}`,
    '  containers:',
    '    - name: echo',
    `      command: [podnet, serve-echo, --port, '8080'${address ? `, --address, '${address}'` : ''}]`,
    '',
  ].join('\n');
}

/**
 * Pod `pod` of lab `lab`'s addresses (status.podIPs, primary family first) once it is Running
 * and Ready; undefined until then.
 */
export function runningPodIPs(lab: string, pod: string): string[] | undefined {
  const r = podnet(['--lab', lab, 'get', 'pod', pod, '-o', 'json']);
  if (r.status !== 0) return undefined;
  const status = (JSON.parse(r.stdout) as Pod).status;
  const ready = status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  if (status?.phase !== 'Running' || !ready || !status.podIP) return undefined;
  return status.podIPs?.map((i) => i.ip) ?? [status.podIP];
}

/** What an echo pod (`podnet serve-echo`) answers: who served the request. */
export interface EchoAnswer {
  pod: string;
  namespace: string;
  ip: string;
  node: string;
}

/**
 * Runs `argv` in pod `pod` (namespace `default`) of lab `lab` as `podnet lab exec` does: in
 * the pod's network namespace, with its resolv.conf and environment, the exit code passed
 * through. It starts no podnet process: tests run commands in pods over and over while they
 * poll, and each CLI start costs a fraction of a CPU-second the lab needs. `lab exec` itself is
 * tested in lab-pods.
 */
export function podExec(
  lab: string,
  pod: string,
  argv: string[],
  namespace = 'default',
): SpawnSyncReturns<string> {
  const state = readLab(lab);
  const record = state && findPodRecord(state.stateDir, namespace, pod);
  if (!state || !record?.podIP) {
    const stderr = `pod ${namespace}/${pod} is not running in lab ${lab}`;
    return { pid: 0, output: [null, '', stderr], stdout: '', stderr, status: 2, signal: null };
  }
  return spawnSync('ip', ['netns', 'exec', record.netns, ...argv], {
    encoding: 'utf8',
    timeout: 120_000,
    env: execEnv(record, state.stateDir),
  });
}

/** One GET of `url` from inside a pod of lab `lab`: the echo's answer, or undefined if it failed. */
export function echoGetOnce(lab: string, from: string, url: string): EchoAnswer | undefined {
  // busybox's own `wget -T` crashes (Debian 12 busybox-static): bound it from outside.
  const r = podExec(lab, from, ['timeout', '3', 'busybox', 'wget', '-q', '-O', '-', url]);
  return r.status === 0 ? (JSON.parse(r.stdout) as EchoAnswer) : undefined;
}

/** GET http://ip:8080/ from inside a pod of lab `lab`, retried until the deadline. */
export function echoGet(
  lab: string,
  from: string,
  ip: string,
  timeoutMs = 20_000,
): Promise<EchoAnswer> {
  return until(
    `HTTP from ${from} to ${ip}`,
    () => echoGetOnce(lab, from, `http://${ip}:8080/`),
    timeoutMs,
  );
}

/**
 * Polls `check` until it returns a value, or fails naming `what`: every 100 ms, or as long as
 * the check itself took (at most 500 ms) when that was longer.
 */
export async function until<T>(
  what: string,
  check: () => T | undefined,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const started = Date.now();
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    // A check that runs a podnet command costs CPU the lab needs to get there: rest about as
    // long as it took, so that polling takes at most about half a core.
    const took = Date.now() - started;
    await new Promise((r) => setTimeout(r, Math.min(500, Math.max(100, took))));
  }
}
