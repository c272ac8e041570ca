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
  const byInode = new Map<string, string>();
  for (const name of names) {
    try {
      const st = statSync(netnsPath(name));
      byInode.set(`${st.dev}:${st.ino}`, name);
    } catch {
      /* gone already */
    }
  }
  const found = new Map<string, number[]>();
  if (byInode.size === 0) return found;
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let key: string;
    try {
      const st = statSync(`/proc/${entry}/ns/net`);
      key = `${st.dev}:${st.ino}`;
    } catch {
      continue; // exited meanwhile, or a kernel thread
    }
    const ns = byInode.get(key);
    if (ns) found.set(ns, [...(found.get(ns) ?? []), Number(entry)]);
  }
  return found;
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
