// One small nft table, read the way a reconciler compares it: a chain's rules without its hook
// line, a set's elements in the form they are written in (`"pn1234" . 10.244.1.5`,
// `6 . 2379-2380`), and the packets of its named counters. A read lists the whole table, so
// this stays cheap only for tables of modest size.
import { run } from '../process/run.js';
import { nftApply } from './nft.js';
import type { NftSession } from './nft-session.js';

/** nft lists protocols of an `inet_proto` by name; scripts give their numbers. */
const PROTOCOL_NUMBERS: Record<string, number> = {
  icmp: 1,
  ipencap: 4,
  tcp: 6,
  udp: 17,
  sctp: 132,
};

type JsonValue = string | number | { range: [number, number] } | { prefix: unknown };

interface NftSetJson {
  type: string | string[];
  elem?: (JsonValue | { concat: JsonValue[] } | { elem: { val: JsonValue } })[];
}

function part(value: JsonValue, type: string): string {
  if (typeof value === 'object' && 'range' in value) return `${value.range[0]}-${value.range[1]}`;
  if (typeof value === 'object') throw new Error(`unexpected set element ${JSON.stringify(value)}`);
  if (type === 'ifname') return `"${value}"`;
  if (type === 'inet_proto' && typeof value === 'string')
    return String(PROTOCOL_NUMBERS[value] ?? value);
  return String(value);
}

interface NftTableJson {
  set?: NftSetJson & { name: string };
  counter?: { name: string; packets: number };
}

function elementsOf(set: NftSetJson): string[] {
  const types = Array.isArray(set.type) ? set.type : [set.type];
  return (set.elem ?? []).map((e) => {
    const value = typeof e === 'object' && 'elem' in e ? e.elem.val : e;
    const parts = typeof value === 'object' && 'concat' in value ? value.concat : [value];
    return parts.map((p, i) => part(p, types[i] ?? '')).join(' . ');
  });
}

/** Each set's elements from `nft -j list table`, as a script would write them. */
export function setsFromJson(json: string): Map<string, string[]> {
  const items = (JSON.parse(json) as { nftables: NftTableJson[] }).nftables;
  return new Map(items.flatMap((i) => (i.set ? [[i.set.name, elementsOf(i.set)]] : [])));
}

/** Packets per named counter from `nft -j list table` or `nft -j list counters table`. */
export function counterPacketsFromJson(json: string): Map<string, number> {
  const items = (JSON.parse(json) as { nftables: NftTableJson[] }).nftables;
  return new Map(items.flatMap((i) => (i.counter ? [[i.counter.name, i.counter.packets]] : [])));
}

/** Each chain's rules from `nft -t list table`, without a base chain's hook line. */
export function chainsFromListing(listing: string): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  let rules: string[] | undefined;
  for (const raw of listing.split('\n')) {
    const line = raw.trim();
    const open = /^chain (\S+) \{$/.exec(line);
    if (open) chains.set(open[1]!, (rules = []));
    else if (line === '}') rules = undefined;
    else if (rules && line && !line.startsWith('type ') && !line.startsWith('policy '))
      rules.push(line);
  }
  return chains;
}

/** A table as a reconciler compares it; all empty when the table is missing. */
export interface ListedTable {
  counters: Map<string, number>;
  sets: Map<string, string[]>;
  chains: Map<string, string[]>;
}

export interface NftTableReader {
  run(script: string): Promise<void>;
  /** The whole table: two `nft` runs (rules as text, elements and counters as JSON). */
  list(): Promise<ListedTable>;
  counters(): Promise<Map<string, number>>;
}

/**
 * Reads and changes one table (`inet podnet-guard`) in a namespace, or the current one.
 * Changes go through `session` when given (no process start per change), else `nft -f`.
 */
export function nftTable(table: string, netns?: string, session?: NftSession): NftTableReader {
  const [family, name] = table.split(' ') as [string, string];
  // Exit 1 is nft's "no such table": reported as missing, not as a failure.
  const list = async (args: string[]): Promise<string | undefined> => {
    const r = await run(['nft', ...args], { netns, okCodes: [1] });
    return r.code === 0 ? r.stdout : undefined;
  };
  return {
    run: (script) => (session ? session.run(script) : nftApply(script, { netns })),
    async list() {
      // Terse text drops set elements, which the JSON carries in the form they are written in.
      const [json, text] = await Promise.all([
        list(['-j', 'list', 'table', family, name]),
        list(['-t', 'list', 'table', family, name]),
      ]);
      return {
        counters: json === undefined ? new Map() : counterPacketsFromJson(json),
        sets: json === undefined ? new Map() : setsFromJson(json),
        chains: text === undefined ? new Map() : chainsFromListing(text),
      };
    },
    async counters() {
      const out = await list(['-j', 'list', 'counters', 'table', family, name]);
      return out === undefined ? new Map() : counterPacketsFromJson(out);
    },
  };
}
