// Where does the guard send this packet? Walks one packet through one base chain of the guard's
// table as the fake nft holds it, the way netfilter would, and answers with the verdict and the
// counter it bumped. Every match the guard writes is understood; any other is an error, never
// skipped, so an answer always comes from the rules as programmed.
import type { FakeTable } from './fake-nftables.js';
import { inCIDR } from './in-cidr.js';

export interface GuardPacket {
  iif: string;
  src: string;
  dst: string;
  /** IP protocol number (1 ICMP, 4 IP-in-IP, 6 TCP, 17 UDP, 58 ICMPv6). */
  proto: number;
  dport?: number;
  icmpv6Type?: 'nd-router-advert' | 'nd-neighbor-solicit' | 'mld2-listener-report' | 'echo-request';
}

export interface GuardVerdict {
  verdict: 'accept' | 'drop';
  counter?: string;
}

const PROTO_NAMES: Record<string, number> = { ipencap: 4, tcp: 6, udp: 17 };

function family(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

function nameMatches(pattern: string, name: string): boolean {
  const p = pattern.replace(/^"|"$/g, '');
  return p.endsWith('*') ? name.startsWith(p.slice(0, -1)) : name === p;
}

function inSet(table: FakeTable, set: string, key: string): boolean {
  const s = table.sets.get(set);
  if (!s) throw new Error(`no set ${set}`);
  for (const el of s.elements.keys()) {
    const parts = el.split(' . ');
    const keys = key.split(' . ');
    if (parts.length !== keys.length) continue;
    if (parts.every((part, i) => partMatches(part, keys[i]!))) return true;
  }
  return false;
}

function partMatches(part: string, value: string): boolean {
  const range = /^(\d+)-(\d+)$/.exec(part);
  if (range) return Number(value) >= Number(range[1]) && Number(value) <= Number(range[2]);
  if (part.includes('/')) return inCIDR(value, part);
  return part === value;
}

/** One match of a rule (the text up to the next match): true when the packet meets it. */
function matches(table: FakeTable, p: GuardPacket, rule: string): boolean {
  let rest = rule;
  const take = (re: RegExp): RegExpExecArray | null => {
    const m = re.exec(rest);
    if (m) rest = rest.slice(m[0].length).trimStart();
    return m;
  };
  for (;;) {
    let m: RegExpExecArray | null;
    if (/^(counter|accept|drop)/.test(rest) || rest === '') return true;
    if ((m = take(/^iifname (!= )?("[^"]+")/))) {
      if (nameMatches(m[2]!, p.iif) === !!m[1]) return false;
    } else if ((m = take(/^iifname \{ ([^}]+) \}/))) {
      if (!m[1]!.split(', ').some((n) => nameMatches(n, p.iif))) return false;
    } else if ((m = take(/^iifname \. ip6? saddr @([\w-]+)/))) {
      if (!inSet(table, m[1]!, `"${p.iif}" . ${p.src}`)) return false;
    } else if ((m = take(/^(ip6?) ([sd])addr @([\w-]+)/))) {
      const addr = m[2] === 's' ? p.src : p.dst;
      if (family(addr) !== (m[1] === 'ip' ? 4 : 6) || !inSet(table, m[3]!, addr)) return false;
    } else if ((m = take(/^ip6 saddr (\S+)/))) {
      const cidr = m[1] === '::' ? '::/128' : m[1]!;
      if (family(p.src) !== 6 || !inCIDR(p.src, cidr)) return false;
    } else if ((m = take(/^meta l4proto \. th dport @([\w-]+)/))) {
      if (p.dport === undefined || !inSet(table, m[1]!, `${p.proto} . ${p.dport}`)) return false;
    } else if ((m = take(/^meta l4proto (\w+)/))) {
      if (p.proto !== PROTO_NAMES[m[1]!]) return false;
    } else if ((m = take(/^(udp|tcp) dport (\d+)/))) {
      if (p.proto !== PROTO_NAMES[m[1]!] || p.dport !== Number(m[2])) return false;
    } else if ((m = take(/^icmpv6 type ([\w-]+)/))) {
      if (p.proto !== 58 || p.icmpv6Type !== m[1]) return false;
    } else throw new Error(`the guard tracer does not understand "${rest}" in "${rule}"`);
  }
}

/** The verdict of one base chain of the guard for one packet (policy accept at its end). */
export function traceGuard(table: FakeTable, chain: string, p: GuardPacket): GuardVerdict {
  const c = table.chains.get(chain);
  if (!c) throw new Error(`no chain ${chain}`);
  for (const rule of c.rules) {
    if (!matches(table, p, rule)) continue;
    const counter = /counter name "([\w-]+)"/.exec(rule)?.[1];
    if (rule.endsWith(' drop') || rule === 'drop') return { verdict: 'drop', counter };
    if (rule.endsWith('accept')) return { verdict: 'accept', counter };
  }
  return { verdict: 'accept' };
}
