// An in-memory nftables: the NftablesKernel a proxier is given, keeping tables, chains, rules,
// sets and elements as the kernel would after each script. It understands the commands podnet
// sends and refuses what the kernel refuses (a rule or element naming a missing chain or set,
// deleting a chain or set something still refers to, a missing element, a changed element
// value, a malformed address, a range or prefix in a set without `flags interval`, overlapping
// intervals, a verdict map that is a set, an address looked up in a set of another type), all
// or nothing per script, like `nft -f`.
import { overlaps, parseCidr } from '../../src/net/index.js';
import type { NftablesKernel } from '../../src/proxy/kernel.js';

export interface FakeChain {
  /** `type nat hook prerouting priority -100; policy accept;` for a base chain. */
  base?: string;
  rules: string[];
}

export interface FakeSet {
  /** The declaration between the braces, as sent. */
  body: string;
  /** Element key → element text (`key` or `key : value`). */
  elements: Map<string, string>;
}

export interface FakeTable {
  chains: Map<string, FakeChain>;
  sets: Map<string, FakeSet>;
}

export class FakeNftables implements NftablesKernel {
  /** `family name` → table. */
  tables = new Map<string, FakeTable>();
  /** Scripts accepted, in order. */
  readonly transactions: string[] = [];

  async run(script: string): Promise<void> {
    const next = cloneTables(this.tables);
    script
      .split('\n')
      .filter((l) => l.trim())
      .forEach((line, i) => {
        try {
          applyCommand(next, line.trim());
        } catch (err) {
          throw new Error(`nft: line ${i + 1}: ${(err as Error).message}: ${line}`);
        }
      });
    this.tables = next;
    this.transactions.push(script);
  }

  async listChain(family: string, table: string, chain: string): Promise<string[] | undefined> {
    return this.tables.get(`${family} ${table}`)?.chains.get(chain)?.rules.slice();
  }

  /** `nft flush ruleset`, as someone on the host would. */
  flushRuleset(): void {
    this.tables = new Map();
  }

  /** One table as a script that recreates it (for loading into a kernel to compare). */
  script(name: string): string {
    const t = this.tables.get(name);
    if (!t) return '';
    const out = [`add table ${name}`];
    for (const [set, s] of t.sets) out.push(`add ${setKind(s.body)} ${name} ${set} { ${s.body} }`);
    for (const [chain, c] of t.chains)
      out.push(`add chain ${name} ${chain}${c.base ? ` { ${c.base} }` : ''}`);
    for (const [chain, c] of t.chains)
      for (const rule of c.rules) out.push(`add rule ${name} ${chain} ${rule}`);
    for (const [set, s] of t.sets) {
      if (s.elements.size)
        out.push(`add element ${name} ${set} { ${[...s.elements.values()].join(', ')} }`);
    }
    return `${out.join('\n')}\n`;
  }
}

function cloneTables(tables: Map<string, FakeTable>): Map<string, FakeTable> {
  const out = new Map<string, FakeTable>();
  for (const [name, t] of tables) {
    const chains = new Map<string, FakeChain>();
    for (const [c, chain] of t.chains) chains.set(c, { base: chain.base, rules: [...chain.rules] });
    const sets = new Map<string, FakeSet>();
    for (const [s, set] of t.sets) sets.set(s, { body: set.body, elements: new Map(set.elements) });
    out.set(name, { chains, sets });
  }
  return out;
}

function setKind(body: string): 'map' | 'set' {
  return body.includes(' : ') ? 'map' : 'set';
}

class NftError extends Error {}

const COMMAND =
  /^(add|delete|flush) (table|chain|rule|map|set|element) (\w+) ([\w-]+)(?: ([\w-]+))?(?: (.*))?$/;

function applyCommand(tables: Map<string, FakeTable>, line: string): void {
  const m = COMMAND.exec(line);
  if (!m) throw new NftError('syntax error (not a command the fake knows)');
  const [, verb, object, family, tableName, name, rest] = m as unknown as string[];
  const key = `${family} ${tableName}`;
  if (object === 'table') {
    if (verb === 'add') {
      if (!tables.has(key)) tables.set(key, { chains: new Map(), sets: new Map() });
    } else if (verb === 'delete') {
      if (!tables.delete(key)) throw new NftError('No such file or directory (table)');
    } else throw new NftError(`cannot ${verb} a table here`);
    return;
  }
  const table = tables.get(key);
  if (!table) throw new NftError(`No such file or directory (table ${key})`);
  if (!name) throw new NftError(`${object} needs a name`);
  validateAddresses(line);
  switch (`${verb} ${object}`) {
    case 'add chain': {
      const base = rest ? /^\{ (.*) \}$/.exec(rest)?.[1] : undefined;
      const had = table.chains.get(name);
      if (had && had.base !== base && base !== undefined)
        throw new NftError('Device or resource busy (chain type changed)');
      if (!had) table.chains.set(name, { base, rules: [] });
      return;
    }
    case 'flush chain':
      chainOf(table, name).rules = [];
      return;
    case 'delete chain': {
      chainOf(table, name);
      refuseInUse(chainUsers(table, name));
      table.chains.delete(name);
      return;
    }
    case 'add rule': {
      if (!rest) throw new NftError('empty rule');
      const chain = chainOf(table, name);
      for (const target of chainRefs(rest)) chainOf(table, target);
      for (const set of setRefs(rest)) setOf(table, set);
      checkLookups(table, rest);
      chain.rules.push(rest);
      return;
    }
    case 'add map':
    case 'add set': {
      const body = /^\{ (.*) \}$/.exec(rest ?? '')?.[1];
      if (!body) throw new NftError(`${object} needs a declaration`);
      if (setKind(body) !== object) throw new NftError(`a ${setKind(body)} declared as ${object}`);
      const had = table.sets.get(name);
      if (had && had.body !== body) throw new NftError('File exists (declaration changed)');
      if (!had) table.sets.set(name, { body, elements: new Map() });
      return;
    }
    case 'delete map':
    case 'delete set': {
      setOf(table, name);
      refuseInUse(setUsers(table, name));
      table.sets.delete(name);
      return;
    }
    case 'add element': {
      const set = setOf(table, name);
      for (const item of elementItems(rest)) {
        const [elKey, value] = item.split(' : ');
        if ((value !== undefined) !== (setKind(set.body) === 'map'))
          throw new NftError(`element ${item} does not fit ${name}`);
        for (const target of chainRefs(value ?? '')) chainOf(table, target);
        const had = set.elements.get(elKey!);
        if (had !== undefined && had !== item) throw new NftError(`File exists (${elKey})`);
        if (had === undefined) checkInterval(set, elKey!);
        set.elements.set(elKey!, item);
      }
      return;
    }
    case 'delete element': {
      const set = setOf(table, name);
      for (const item of elementItems(rest)) {
        const elKey = item.split(' : ')[0]!;
        if (!set.elements.delete(elKey))
          throw new NftError(`No such file or directory (element ${elKey})`);
      }
      return;
    }
    default:
      throw new NftError(`cannot ${verb} a ${object}`);
  }
}

function chainOf(table: FakeTable, name: string): FakeChain {
  const chain = table.chains.get(name);
  if (!chain) throw new NftError(`No such file or directory (chain ${name})`);
  return chain;
}

function setOf(table: FakeTable, name: string): FakeSet {
  const set = table.sets.get(name);
  if (!set) throw new NftError(`No such file or directory (set ${name})`);
  return set;
}

function elementItems(rest: string | undefined): string[] {
  const inner = /^\{ (.*) \}$/.exec(rest ?? '')?.[1];
  if (!inner) throw new NftError('elements must be given in braces');
  return inner.split(', ');
}

/** Chains a rule or a verdict names: `jump X`, `goto X` (also inside anonymous vmaps). */
export function chainRefs(text: string): string[] {
  return [...text.matchAll(/\b(?:jump|goto) ([\w-]+)/g)].map((m) => m[1]!);
}

/** Named sets and maps a rule uses: `@name`. */
export function setRefs(text: string): string[] {
  return [...text.matchAll(/@([\w-]+)/g)].map((m) => m[1]!);
}

function chainUsers(table: FakeTable, name: string): string[] {
  const users: string[] = [];
  for (const [c, chain] of table.chains)
    if (chain.rules.some((r) => chainRefs(r).includes(name))) users.push(`chain ${c}`);
  for (const [s, set] of table.sets)
    for (const el of set.elements.values())
      if (chainRefs(el).includes(name)) users.push(`element of ${s}`);
  return users;
}

/** nft refuses to delete what a rule or a map element still refers to. */
function refuseInUse(users: string[]): void {
  if (users.length) throw new NftError(`Device or resource busy (used by ${users[0]})`);
}

function setUsers(table: FakeTable, name: string): string[] {
  const users: string[] = [];
  for (const [c, chain] of table.chains)
    if (chain.rules.some((r) => setRefs(r).includes(name))) users.push(`chain ${c}`);
  return users;
}

/** Dotted quads must be addresses: `10.96.0.300` is refused as nft refuses it. */
function validateAddresses(line: string): void {
  for (const m of line.matchAll(/(?<![\w.])(\d+)\.(\d+)\.(\d+)\.(\d+)(?![\w.])/g)) {
    if (m.slice(1, 5).some((o) => Number(o) > 255))
      throw new NftError(`Could not resolve hostname: ${m[0]}`);
  }
}

/** One part of an interval element as a range: a prefix or `first-last` of ports. */
function interval(
  part: string,
): { lo: bigint; hi: bigint } | { cidr: ReturnType<typeof parseCidr> } {
  if (part.includes('/')) return { cidr: parseCidr(part, { loose: true }) };
  const range = /^(\d+)-(\d+)$/.exec(part);
  if (range) return { lo: BigInt(range[1]!), hi: BigInt(range[2]!) };
  if (/^\d+$/.test(part)) return { lo: BigInt(part), hi: BigInt(part) };
  return { cidr: parseCidr(`${part}/32`) };
}

function partsOverlap(a: string, b: string): boolean {
  const x = interval(a);
  const y = interval(b);
  if ('cidr' in x && 'cidr' in y) return overlaps(x.cidr, y.cidr);
  if ('lo' in x && 'lo' in y) return x.lo <= y.hi && y.lo <= x.hi;
  return false;
}

/**
 * Prefixes and ranges need `flags interval` (nft: "you must add 'flags interval' to your
 * set"), and intervals of one set may not overlap ("conflicting intervals specified").
 */
function checkInterval(set: FakeSet, key: string): void {
  const parts = key.split(' . ');
  const ranged = parts.some((p) => p.includes('/') || /^\d+-\d+$/.test(p));
  const isInterval = /\binterval\b/.test(set.body);
  if (ranged && !isInterval)
    throw new NftError(`you must add 'flags interval' to your set for ${key}`);
  if (!isInterval) return;
  for (const other of set.elements.keys()) {
    const otherParts = other.split(' . ');
    if (
      otherParts.length === parts.length &&
      parts.every((p, i) => partsOverlap(p, otherParts[i]!))
    )
      throw new NftError(`conflicting intervals specified (${key} and ${other})`);
  }
}

/** `vmap @x` needs a verdict map; an address looked up needs a set of addresses. */
function checkLookups(table: FakeTable, rule: string): void {
  for (const m of rule.matchAll(/vmap @([\w-]+)/g)) {
    if (!/: verdict;/.test(table.sets.get(m[1]!)!.body))
      throw new NftError(`@${m[1]} is not a verdict map`);
  }
  for (const m of rule.matchAll(/(?<!\. )ip [sd]addr (?:!= )?(?:vmap )?@([\w-]+)/g)) {
    if (!/^type ipv4_addr[;:\s]/.test(table.sets.get(m[1]!)!.body))
      throw new NftError(`datatype mismatch: @${m[1]} does not hold addresses`);
  }
}
