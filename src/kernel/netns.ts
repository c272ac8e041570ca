// Network namespaces: create, list, delete, find the processes inside, sysctls and the
// per-namespace /etc files that `ip netns exec` bind-mounts (resolv.conf).
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runJson, netnsPath } from '../process/run.js';

/** Where `ip netns exec NS` finds files it bind-mounts over /etc (see ip-netns(8)). */
export const NETNS_ETC_DIR = '/etc/netns';

export async function listNetns(): Promise<string[]> {
  const list = await runJson<{ name: string }[]>(['ip', '-j', 'netns', 'list']);
  return list.map((n) => n.name);
}

/** Creates the namespaces in one `ip -batch` (fails on the first that exists). */
export async function addNetns(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await run(['ip', '-batch', '-'], { input: names.map((n) => `netns add ${n}\n`).join('') });
}

/** Creates one namespace unless it exists already. */
export async function ensureNetns(name: string): Promise<void> {
  try {
    statSync(netnsPath(name));
  } catch {
    await run(['ip', 'netns', 'add', name]);
  }
}

/** Removes the namespaces that exist, in one `ip -batch -force`; missing ones are fine. */
export async function deleteNetns(names: string[]): Promise<void> {
  const present = names.filter((n) => {
    try {
      statSync(netnsPath(n));
      return true;
    } catch {
      return false;
    }
  });
  if (present.length === 0) return;
  await run(['ip', '-force', '-batch', '-'], {
    input: present.map((n) => `netns del ${n}\n`).join(''),
    okCodes: [1],
  });
}

/**
 * Pids of the processes whose network namespace is one of `names`, found in one pass over
 * /proc (instead of one `ip netns pids` per namespace).
 */
export function pidsInNetns(names: string[]): Map<string, number[]> {
  const byIdentity = new Map<string, string>();
  for (const name of names) {
    const identity = netnsIdentity(netnsPath(name));
    if (identity) byIdentity.set(identity, name);
  }
  const found = new Map<string, number[]>();
  if (byIdentity.size === 0) return found;
  for (const [pid, identity] of processNamespaces()) {
    const ns = byIdentity.get(identity);
    if (ns) found.set(ns, [...(found.get(ns) ?? []), pid]);
  }
  return found;
}

/**
 * A network namespace's identity, the device and inode of its nsfs file: unlike its path, it
 * names the namespace for as long as the namespace exists. Undefined when the path is gone.
 */
export function netnsIdentity(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** Which of the namespaces (by identity) some process still lives in, in one pass over /proc. */
export function netnsWithProcesses(identities: string[]): Set<string> {
  const wanted = new Set(identities);
  const found = new Set<string>();
  if (wanted.size === 0) return found;
  for (const [, identity] of processNamespaces()) {
    if (wanted.has(identity)) found.add(identity);
  }
  return found;
}

function* processNamespaces(): Generator<[number, string]> {
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    // Undefined for a process that exited meanwhile, or a kernel thread.
    const identity = netnsIdentity(`/proc/${entry}/ns/net`);
    if (identity) yield [Number(entry), identity];
  }
}

/** Sets sysctls inside a namespace with one `sysctl` process (never in the root namespace). */
export async function setSysctls(netns: string, values: Record<string, string>): Promise<void> {
  const args = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  if (args.length === 0) return;
  await run(['sysctl', '-q', '-w', ...args], { netns });
}

/** Writes `/etc/netns/<netns>/resolv.conf`, which `ip netns exec` shows the pod as /etc/resolv.conf. */
export function writeNetnsResolvConf(netns: string, text: string): void {
  const dir = join(NETNS_ETC_DIR, netns);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'resolv.conf'), text);
}

export function removeNetnsEtc(netns: string): void {
  rmSync(join(NETNS_ETC_DIR, netns), { recursive: true, force: true });
}

export function listNetnsEtc(): string[] {
  try {
    return readdirSync(NETNS_ETC_DIR);
  } catch {
    return [];
  }
}
