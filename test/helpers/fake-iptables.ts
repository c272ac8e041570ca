// An in-memory iptables (nat and filter): the IptablesKernel a proxier is given. It reads
// `iptables-restore --noflush` text as the kernel does — `:CHAIN` creates or flushes, `-A`,
// `-I`, `-D`, `-X`, one commit per `*table` block — and refuses what iptables refuses: a jump to
// a missing chain, deleting a rule that is not there, deleting a chain still jumped to or not
// empty, a malformed address. Given the namespace's fake ipset, it also refuses a rule naming
// a set that does not exist, and tells the ipset which sets its rules name.
import type { IptablesTable } from '../../src/proxy/iptables-rules.js';
import type { IptablesKernel } from '../../src/proxy/kernel.js';
import type { FakeIpset } from './fake-ipset.js';

const BUILTIN: Record<IptablesTable, string[]> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** Targets that are not chains. */
const TARGETS = new Set([
  'ACCEPT',
  'DROP',
  'RETURN',
  'REJECT',
  'DNAT',
  'MASQUERADE',
  'MARK',
  'NFLOG',
]);

/** Chain → rules (the part after `-A CHAIN`). */
export type FakeIptablesTable = Map<string, string[]>;

export class FakeIptables implements IptablesKernel {
  tables: Record<IptablesTable, FakeIptablesTable> = {
    nat: new Map(BUILTIN.nat.map((c) => [c, []])),
    filter: new Map(BUILTIN.filter.map((c) => [c, []])),
  };
  /** Restore texts accepted, in order. */
  readonly transactions: string[] = [];

  constructor(readonly ipset?: FakeIpset) {
    if (ipset) {
      ipset.inUse = (name) =>
        Object.values(this.tables).some((chains) =>
          [...chains.values()].some((rules) => rules.some((r) => setsNamed(r).includes(name))),
        );
    }
  }

  async restore(text: string): Promise<void> {
    let table: IptablesTable | undefined;
    let next: FakeIptablesTable | undefined;
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      try {
        if (line.startsWith('*')) {
          const name = line.slice(1);
          if (name !== 'nat' && name !== 'filter') throw new Error(`no table ${name}`);
          table = name;
          next = new Map([...this.tables[name]].map(([c, r]) => [c, [...r]]));
        } else if (!table || !next) {
          throw new Error('a line outside a table');
        } else if (line === 'COMMIT') {
          // Each table is committed on its own, as iptables-restore does.
          this.tables[table] = next;
          table = next = undefined;
        } else {
          applyLine(next, line, this.ipset);
        }
      } catch (err) {
        throw new Error(`iptables-restore: line ${i + 1} failed: ${(err as Error).message}`);
      }
    });
    if (table) throw new Error(`iptables-restore: no COMMIT for table ${table}`);
    this.transactions.push(text);
  }

  async save(table: IptablesTable): Promise<string> {
    const chains = this.tables[table];
    const out = [`*${table}`];
    for (const c of chains.keys())
      out.push(BUILTIN[table].includes(c) ? `:${c} ACCEPT [0:0]` : `:${c} - [0:0]`);
    for (const [c, rules] of chains) for (const r of rules) out.push(`-A ${c} ${r}`);
    out.push('COMMIT');
    return `${out.join('\n')}\n`;
  }

  async listChain(table: IptablesTable, chain: string): Promise<string[] | undefined> {
    return this.tables[table].get(chain)?.map((r) => `-A ${chain} ${r}`);
  }

  /** `iptables -t TABLE -F`, as someone on the host would: every chain emptied. */
  flush(table: IptablesTable): void {
    for (const rules of this.tables[table].values()) rules.length = 0;
  }

  /** `iptables -t TABLE -D CHAIN SPEC` by hand. */
  deleteRule(table: IptablesTable, chain: string, spec: string): void {
    applyLine(this.tables[table], `-D ${chain} ${spec}`);
  }
}

function applyLine(chains: FakeIptablesTable, line: string, ipset?: FakeIpset): void {
  validateAddresses(line);
  const declared = /^:(\S+) (\S+) \[\d+:\d+\]$/.exec(line);
  if (declared) {
    chains.set(declared[1]!, []);
    return;
  }
  const m = /^(-A|-I|-D|-X) (\S+)(?: (.*))?$/.exec(line);
  if (!m) throw new Error(`unknown line`);
  const [, op, chain, rest = ''] = m as unknown as [string, string, string, string?];
  const rules = chains.get(chain);
  if (!rules) throw new Error(`chain ${chain} does not exist`);
  if (op === '-X') {
    if (rules.length) throw new Error(`chain ${chain} is not empty`);
    for (const [c, rs] of chains)
      if (rs.some((r) => jumpTarget(r) === chain))
        throw new Error(`chain ${chain} is still referenced by ${c}`);
    chains.delete(chain);
    return;
  }
  if (op === '-D') {
    const i = rules.indexOf(rest);
    if (i === -1) throw new Error(`no such rule in ${chain}: ${rest}`);
    rules.splice(i, 1);
    return;
  }
  let spec = rest;
  let at = rules.length;
  if (op === '-I') {
    const pos = /^(\d+) (.*)$/.exec(rest);
    at = pos ? Number(pos[1]) - 1 : 0;
    spec = pos ? pos[2]! : rest;
    if (at > rules.length) throw new Error(`index ${at + 1} is past the end of ${chain}`);
  }
  for (const set of setsNamed(spec))
    if (ipset && !ipset.sets.has(set)) throw new Error(`Set ${set} doesn't exist.`);
  const target = jumpTarget(spec);
  if (target && !TARGETS.has(target) && !chains.has(target))
    throw new Error(`Couldn't load target ${target}`);
  rules.splice(at, 0, spec);
}

/** The ipsets a rule matches on (`-m set --match-set NAME …`). */
function setsNamed(spec: string): string[] {
  return [...spec.matchAll(/--match-set (\S+)/g)].map((m) => m[1]!);
}

/** The chain or target after `-j` / `-g`. */
export function jumpTarget(spec: string): string | undefined {
  return /(?:^| )-[jg] (\S+)/.exec(spec)?.[1];
}

function validateAddresses(line: string): void {
  for (const m of line.matchAll(/(?<![\w.])(\d+)\.(\d+)\.(\d+)\.(\d+)(?![\w.])/g)) {
    if (m.slice(1, 5).some((o) => Number(o) > 255))
      throw new Error(`host/network \`${m[0]}' not found`);
  }
}
