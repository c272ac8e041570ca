// iptables through its restore/save programs: one atomic `iptables-restore --noflush` per
// change, `iptables-save` only when the caller needs the whole picture (a full sync). IPv6
// rules live in tables of their own, written by the `ip6tables` programs in the same way.
import type { Family } from '../net/index.js';
import { run } from '../process/run.js';

export interface IptablesOptions {
  netns?: string;
  /** Whose tables: IPv4 (`iptables`, the default) or IPv6 (`ip6tables`). */
  family?: Family;
  /** `-c`: every rule preceded by its `[packets:bytes]` counters. */
  counters?: boolean;
}

/** Applies restore text atomically; the kernel keeps the old rules if any line is rejected. */
export async function iptablesRestore(text: string, opts: IptablesOptions = {}): Promise<void> {
  await run([`${program(opts)}-restore`, '-w', '5', '--noflush'], {
    netns: opts.netns,
    input: text,
  });
}

export async function iptablesSave(table: string, opts: IptablesOptions = {}): Promise<string> {
  const argv = [`${program(opts)}-save`, ...(opts.counters ? ['-c'] : []), '-t', table];
  return (await run(argv, { netns: opts.netns })).stdout;
}

/** The rules of one chain (`-S`), or undefined when the chain does not exist. */
export async function iptablesListChain(
  table: string,
  chain: string,
  opts: IptablesOptions = {},
): Promise<string[] | undefined> {
  const r = await run([program(opts), '-w', '5', '-t', table, '-S', chain], {
    netns: opts.netns,
    okCodes: [1],
  });
  if (r.code !== 0) return undefined;
  return r.stdout.split('\n').filter((l) => l.startsWith('-A '));
}

function program(opts: IptablesOptions): string {
  return opts.family === 6 ? 'ip6tables' : 'iptables';
}

/** iptables of one family bound to one network namespace: what a proxier is given. */
export function iptablesKernel(
  netns?: string,
  family?: Family,
): {
  restore(text: string): Promise<void>;
  save(table: string): Promise<string>;
  listChain(table: string, chain: string): Promise<string[] | undefined>;
} {
  const opts = { netns, family };
  return {
    restore: (text) => iptablesRestore(text, opts),
    save: (table) => iptablesSave(table, opts),
    listChain: (table, chain) => iptablesListChain(table, chain, opts),
  };
}
