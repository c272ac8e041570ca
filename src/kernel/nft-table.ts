// One small nft table, read the way a reconciler compares it: a chain's rules without its hook
// line, a set's elements in the form they are written in (`"pn1234" . 10.244.1.5`,
// `6 . 2379-2380`), and the packets of its named counters. Listing a set asks for that set
// alone, so this stays cheap only for tables of modest size.
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

/** A set's elements from `nft -j list set`, as a script would write them. */
export function setElementsFromJson(json: string): string[] {
  const items = (JSON.parse(json) as { nftables: { set?: NftSetJson }[] }).nftables;
  const set = items.find((i) => i.set)?.set;
  if (!set) return [];
  const types = Array.isArray(set.type) ? set.type : [set.type];
  return (set.elem ?? []).map((e) => {
    const value = typeof e === 'object' && 'elem' in e ? e.elem.val : e;
    const parts = typeof value === 'object' && 'concat' in value ? value.concat : [value];
    return parts.map((p, i) => part(p, types[i] ?? '')).join(' . ');
  });
}

/** Packets per named counter from `nft -j list counters table ...`. */
export function counterPacketsFromJson(json: string): Map<string, number> {
  const items = (
    JSON.parse(json) as { nftables: { counter?: { name: string; packets: number } }[] }
  ).nftables;
  return new Map(items.flatMap((i) => (i.counter ? [[i.counter.name, i.counter.packets]] : [])));
}

/** The rules of a chain from `nft -t list chain`, without the base chain's hook line. */
export function chainRulesFromListing(listing: string, chain: string): string[] {
  const lines = listing.split('\n').map((l) => l.trim());
  const open = lines.findIndex((l) => l.startsWith(`chain ${chain} {`));
  return lines
    .slice(open + 1)
    .filter((l) => l && l !== '}' && !l.startsWith('type ') && !l.startsWith('policy '));
}

export interface NftTableReader {
  run(script: string): Promise<void>;
  listChain(chain: string): Promise<string[] | undefined>;
  listSet(set: string): Promise<string[] | undefined>;
  counters(): Promise<Map<string, number>>;
}

/**
 * Reads and changes one table (`inet podnet-guard`) in a namespace, or the current one.
 * Changes go through `session` when given (no process start per change), else `nft -f`.
 */
export function nftTable(table: string, netns?: string, session?: NftSession): NftTableReader {
  const [family, name] = table.split(' ') as [string, string];
  // Exit 1 is nft's "no such table/chain/set": reported as missing, not as a failure.
  const list = async (args: string[]): Promise<string | undefined> => {
    const r = await run(['nft', ...args], { netns, okCodes: [1] });
    return r.code === 0 ? r.stdout : undefined;
  };
  return {
    run: (script) => (session ? session.run(script) : nftApply(script, { netns })),
    async listChain(chain) {
      const out = await list(['-t', 'list', 'chain', family, name, chain]);
      return out === undefined ? undefined : chainRulesFromListing(out, chain);
    },
    async listSet(set) {
      const out = await list(['-j', 'list', 'set', family, name, set]);
      return out === undefined ? undefined : setElementsFromJson(out);
    },
    async counters() {
      const out = await list(['-j', 'list', 'counters', 'table', family, name]);
      return out === undefined ? new Map() : counterPacketsFromJson(out);
    },
  };
}
