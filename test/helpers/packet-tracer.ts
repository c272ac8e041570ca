// Where does this packet go? Walks one new packet through the rules a fake kernel holds, the
// way netfilter would (hooks in priority order, jumps, gotos, map lookups), and answers with
// every outcome and its probability: random choices (`numgen`, `statistic`) branch. A rule
// the tracer does not understand is an error, never skipped, so a tracer answer always comes
// from the rules as programmed.
import type { FakeIptables } from './fake-iptables.js';
import type { FakeNftables, FakeTable } from './fake-nftables.js';
import { inCIDR } from './in-cidr.js';

export interface Packet {
  src: string;
  dst: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  dport: number;
  /** `pod`: arrives from a pod's veth (prerouting); `host`: sent by the host itself (output). */
  from: 'pod' | 'host';
  /** The host's own addresses (what `fib daddr type local` and `addrtype LOCAL` match). */
  local: string[];
}

export interface Outcome {
  verdict: 'accept' | 'reject' | 'drop';
  /** The destination after DNAT, `ip:port`; undefined when not translated. */
  to?: string;
  masquerade: boolean;
  probability: number;
}

interface Path {
  probability: number;
  mark: number;
  to?: { ip: string; port: number };
  masquerade: boolean;
}

/**
 * How a rule or chain ended for one path: `next` (on to the next rule: no match, or nothing
 * final), `return` (back to the calling chain; off a base chain: its policy, accept), or final.
 */
type Verdict = 'next' | 'return' | 'accept' | 'reject' | 'drop';
interface Result {
  path: Path;
  verdict: Verdict;
}

const PROTO_NUMBER = { TCP: 6, UDP: 17, SCTP: 132 } as const;

/** Outcomes with the same verdict, destination and masquerade merged, most likely first. */
function summarise(results: Result[]): Outcome[] {
  const merged = new Map<string, Outcome>();
  for (const { path, verdict } of results) {
    const to = path.to ? `${path.to.ip}:${path.to.port}` : undefined;
    const v = verdict === 'reject' || verdict === 'drop' ? verdict : 'accept';
    const key = `${v}|${to}|${path.masquerade}`;
    const had = merged.get(key);
    if (had) had.probability += path.probability;
    else
      merged.set(key, {
        verdict: v,
        to,
        masquerade: path.masquerade,
        probability: path.probability,
      });
  }
  return [...merged.values()].sort((a, b) => b.probability - a.probability);
}

/** Runs the paths still going through one base chain; rejected or dropped ones stay so. */
function stage(results: Result[], run: (p: Path) => Result[]): Result[] {
  return results.flatMap((r) =>
    r.verdict === 'reject' || r.verdict === 'drop' ? [r] : run(r.path),
  );
}

/** The results of a chain's rules in order, as the chain's own results. */
function walkChain<R>(rules: R[], path: Path, evalRule: (rule: R, p: Path) => Result[]): Result[] {
  let live: Path[] = [path];
  const done: Result[] = [];
  for (const rule of rules) {
    const next: Path[] = [];
    for (const p of live) {
      for (const r of evalRule(rule, p)) {
        if (r.verdict === 'next') next.push(r.path);
        else done.push(r);
      }
    }
    live = next;
  }
  return [...done, ...live.map((p) => ({ path: p, verdict: 'return' as const }))];
}

/** What a jump or goto to a chain with these results means for the rule that made it. */
function afterCall(inner: Result[], kind: 'jump' | 'goto'): Result[] {
  // A jump comes back to the next rule; a goto returns straight to this chain's caller.
  return inner.map((r) =>
    r.verdict === 'return' ? { ...r, verdict: kind === 'jump' ? 'next' : 'return' } : r,
  );
}

// ---------------------------------------------------------------- nftables

export function traceNft(nft: FakeNftables, packet: Packet): Outcome[] {
  let results: Result[] = [
    { path: { probability: 1, mark: 0, masquerade: false }, verdict: 'accept' },
  ];
  const through = (hook: (p: Path) => string): void => {
    results = stage(results, (p) => {
      let paths: Result[] = [{ path: p, verdict: 'accept' }];
      for (const [table, chain] of baseChains(nft, hook(p))) {
        paths = stage(paths, (q) => nftChain(table, chain, packet, q, 0));
      }
      return paths;
    });
  };
  if (packet.from === 'pod') {
    through(() => 'prerouting');
    // The routing decision after DNAT: to this host (input) or through it (forward).
    through((p) => (packet.local.includes(p.to?.ip ?? packet.dst) ? 'input' : 'forward'));
  } else {
    through(() => 'output');
  }
  through(() => 'postrouting');
  return summarise(results);
}

function baseChains(nft: FakeNftables, hook: string): [FakeTable, string][] {
  const found: [FakeTable, string, number][] = [];
  for (const table of nft.tables.values()) {
    for (const [name, chain] of table.chains) {
      const m = /hook (\w+) priority (-?\d+)/.exec(chain.base ?? '');
      if (m?.[1] === hook) found.push([table, name, Number(m[2])]);
    }
  }
  return found.sort((a, b) => a[2] - b[2]).map(([t, n]) => [t, n]);
}

function nftChain(
  table: FakeTable,
  name: string,
  pkt: Packet,
  path: Path,
  depth: number,
): Result[] {
  const rules = entered(table.chains.get(name)?.rules, name, depth);
  return walkChain(rules, path, (rule, p) => nftRule(table, rule, pkt, p, depth));
}

/** One rule: its statements left to right; a random choice splits the path. */
function nftRule(table: FakeTable, rule: string, pkt: Packet, path: Path, depth: number): Result[] {
  const daddr = (p: Path): string => p.to?.ip ?? pkt.dst;
  const dport = (p: Path): number => p.to?.port ?? pkt.dport;
  const proto = pkt.protocol.toLowerCase();
  const elements = (set: string): Map<string, string> => {
    const s = table.sets.get(set);
    if (!s) throw new Error(`tracer: no set ${set}`);
    return s.elements;
  };
  const call = (text: string, p: Path): Result[] => {
    const m = /^(jump|goto) ([\w-]+)$/.exec(text.trim());
    if (!m) throw new Error(`tracer: cannot read verdict "${text}" in rule "${rule}"`);
    return afterCall(nftChain(table, m[2]!, pkt, p, depth + 1), m[1] as 'jump' | 'goto');
  };
  const run = (rest: string, p: Path): Result[] => {
    rest = rest.trim();
    if (!rest) return [{ path: p, verdict: 'next' }];
    const miss: Result[] = [{ path: p, verdict: 'next' }];
    const then = (ok: boolean, m: RegExpExecArray): Result[] =>
      ok ? run(rest.slice(m[0].length), p) : miss;
    let m: RegExpExecArray | null;
    if ((m = /^ip (saddr|daddr) (!= )?(\d[\d./]*)(?=\s|$)/.exec(rest))) {
      const addr = m[1] === 'saddr' ? pkt.src : daddr(p);
      return then(inCIDR(addr, m[3]!.includes('/') ? m[3]! : `${m[3]}/32`) !== !!m[2], m);
    }
    // Every traced packet is the first of its connection: state new, never established.
    if ((m = /^ct state ([\w,]+)/.exec(rest))) return then(m[1]!.split(',').includes('new'), m);
    if ((m = /^fib saddr type local/.exec(rest))) return then(pkt.local.includes(pkt.src), m);
    if ((m = /^ip (saddr|daddr) vmap @([\w-]+)$/.exec(rest))) {
      const el = elements(m[2]!).get(m[1] === 'saddr' ? pkt.src : daddr(p));
      return el === undefined ? miss : call(el.split(' : ')[1]!, p);
    }
    if ((m = /^ct status dnat/.exec(rest))) return then(!!p.to, m);
    // A traced packet is a TCP, UDP or SCTP one, never an ICMP error.
    if ((m = /^icmp type [\w-]+/.exec(rest))) return miss;
    if ((m = /^meta l4proto (tcp|udp|sctp)(?=\s)/.exec(rest))) return then(m[1] === proto, m);
    if ((m = /^meta mark & (0x[0-9a-f]+) == (0x[0-9a-f]+)/.exec(rest)))
      return then((p.mark & Number(m[1])) === Number(m[2]), m);
    if ((m = /^meta mark set meta mark ([|^]) (0x[0-9a-f]+)/.exec(rest))) {
      const bit = Number(m[2]);
      return run(rest.slice(m[0].length), {
        ...p,
        mark: m[1] === '|' ? p.mark | bit : p.mark ^ bit,
      });
    }
    if ((m = /^fib daddr type local/.exec(rest))) return then(pkt.local.includes(daddr(p)), m);
    if ((m = /^(ip daddr \. )?meta l4proto \. th dport (vmap )?@([\w-]+)/.exec(rest))) {
      const key = [
        ...(m[1] ? [daddr(p)] : []),
        String(PROTO_NUMBER[pkt.protocol]),
        String(dport(p)),
      ];
      const el = lookup(table, m[3]!, key);
      if (el === undefined) return miss;
      return m[2] ? call(el.split(' : ')[1]!, p) : then(true, m);
    }
    if ((m = /^ip saddr \. ip daddr @([\w-]+)/.exec(rest)))
      return then(elements(m[1]!).has(`${pkt.src} . ${daddr(p)}`), m);
    // Affinity sets learn clients as packets pass; a fake's are empty: no client is remembered.
    if ((m = /^ip (saddr|daddr) (!= )?@([\w-]+)/.exec(rest))) {
      const addr = m[1] === 'saddr' ? pkt.src : daddr(p);
      return then((lookup(table, m[3]!, [addr]) !== undefined) !== !!m[2], m);
    }
    if ((m = /^update @[\w-]+ \{ ip saddr \}/.exec(rest))) return then(true, m);
    const pick =
      /^dnat ip to (ip daddr \. )?(?:tcp|udp|sctp) dport \. numgen random mod (\d+) map @([\w-]+)$/;
    if ((m = pick.exec(rest))) {
      const [, byAddr, mod, map] = m;
      const n = Number(mod);
      return Array.from({ length: n }, (_, i): Result => {
        const branch = { ...p, probability: p.probability / n };
        const el = elements(map!).get(`${byAddr ? `${daddr(p)} . ` : ''}${dport(p)} . ${i}`);
        // An index with no element: the kernel drops the packet.
        if (el === undefined) return { path: branch, verdict: 'drop' };
        const [ip, port] = el.split(' : ')[1]!.split(' . ');
        return { path: { ...branch, to: { ip: ip!, port: Number(port) } }, verdict: 'accept' };
      });
    }
    if ((m = /^dnat ip to ([\d.]+):(\d+)$/.exec(rest)))
      return [{ path: { ...p, to: { ip: m[1]!, port: Number(m[2]) } }, verdict: 'accept' }];
    if ((m = /^numgen random mod (\d+) vmap \{ (.*) \}$/.exec(rest))) {
      const n = Number(m[1]);
      const arms = new Map(m[2]!.split(', ').map((a) => a.split(' : ') as [string, string]));
      return Array.from({ length: n }, (_, i) => {
        const arm = arms.get(String(i));
        const branch = { ...p, probability: p.probability / n };
        return arm ? call(arm, branch) : [{ path: branch, verdict: 'next' as const }];
      }).flat();
    }
    // A counter counts and matches every packet.
    if ((m = /^counter(?=\s|$)/.exec(rest))) return then(true, m);
    // A traced packet is one packet: always under a rate limit. Logging lets it go on.
    if ((m = /^limit rate \d+\/second burst \d+ packets(?=\s|$)/.exec(rest))) return then(true, m);
    if ((m = /^log prefix "[^"]*" group \d+(?=\s|$)/.exec(rest))) return then(true, m);
    if (/^(jump|goto) [\w-]+$/.test(rest)) return call(rest, p);
    if (rest === 'return' || rest === 'accept' || rest === 'reject' || rest === 'drop')
      return [{ path: p, verdict: rest }];
    if (/^masquerade( fully-random)?$/.test(rest))
      return [{ path: { ...p, masquerade: true }, verdict: 'accept' }];
    throw new Error(`tracer: cannot read "${rest}" in rule "${rule}"`);
  };
  return run(rule, path);
}

/**
 * The element of a set or map whose key covers `key` (its parts joined by ` . `): the exact
 * key, or in an interval set an element whose parts are prefixes or `first-last` ranges.
 */
function lookup(table: FakeTable, name: string, key: string[]): string | undefined {
  const set = table.sets.get(name);
  if (!set) throw new Error(`tracer: no set ${name}`);
  const exact = set.elements.get(key.join(' . '));
  if (exact !== undefined || !/\binterval\b/.test(set.body)) return exact;
  for (const [elKey, el] of set.elements) {
    const parts = elKey.split(' . ');
    if (parts.length === key.length && parts.every((part, i) => covers(part, key[i]!))) return el;
  }
  return undefined;
}

function covers(part: string, value: string): boolean {
  if (part.includes('/')) return inCIDR(value, part);
  const range = /^(\d+)-(\d+)$/.exec(part);
  if (range) return Number(value) >= Number(range[1]) && Number(value) <= Number(range[2]);
  return part === value;
}

// ---------------------------------------------------------------- iptables

export function traceIptables(ipt: FakeIptables, packet: Packet): Outcome[] {
  let results: Result[] = [
    { path: { probability: 1, mark: 0, masquerade: false }, verdict: 'accept' },
  ];
  const through = (table: 'nat' | 'filter', chain: string | ((p: Path) => string)): void => {
    results = stage(results, (p) =>
      iptChain(ipt, table, typeof chain === 'string' ? chain : chain(p), packet, p, 0),
    );
  };
  if (packet.from === 'pod') {
    through('nat', 'PREROUTING');
    // The routing decision after DNAT: to this host (INPUT) or through it (FORWARD).
    through('filter', (p) => (packet.local.includes(p.to?.ip ?? packet.dst) ? 'INPUT' : 'FORWARD'));
  } else {
    through('nat', 'OUTPUT');
    through('filter', 'OUTPUT');
  }
  through('nat', 'POSTROUTING');
  return summarise(results);
}

/** Whether `port` is `n` or within `first:last`. */
function inPorts(ports: string, port: number): boolean {
  const [first, last = first] = ports.split(':').map(Number) as [number, number?];
  return port >= first && port <= last!;
}

function iptChain(
  ipt: FakeIptables,
  table: 'nat' | 'filter',
  name: string,
  pkt: Packet,
  path: Path,
  depth: number,
): Result[] {
  const rules = entered(ipt.tables[table].get(name), `${table} ${name}`, depth);
  return walkChain(rules, path, (rule, p) => iptRule(ipt, table, rule, pkt, p, depth));
}

/** The rules of the chain a packet enters at jump `depth`; a missing chain or a loop is a bug. */
function entered<T>(rules: T | undefined, chain: string, depth: number): T {
  if (depth > 16) throw new Error(`tracer: jumps nest too deep at ${chain}`);
  if (!rules) throw new Error(`tracer: no chain ${chain}`);
  return rules;
}

/** Words of a rule, quoted comments kept whole. */
function words(spec: string): string[] {
  return [...spec.matchAll(/"[^"]*"|\S+/g)].map((m) => m[0]);
}

function iptRule(
  ipt: FakeIptables,
  table: 'nat' | 'filter',
  rule: string,
  pkt: Packet,
  path: Path,
  depth: number,
): Result[] {
  const w = words(rule);
  const daddr = path.to?.ip ?? pkt.dst;
  const dport = path.to?.port ?? pkt.dport;
  const p = path;
  let chance = 1;
  let negate = false;
  const miss: Result[] = [{ path, verdict: 'next' }];
  for (let i = 0; i < w.length; i++) {
    const word = w[i]!;
    const arg = (): string => {
      const v = w[++i];
      if (v === undefined) throw new Error(`tracer: ${word} without a value in "${rule}"`);
      return v;
    };
    const test = (ok: boolean): boolean => {
      const pass = ok !== negate;
      negate = false;
      return pass;
    };
    const cidr = (v: string): string => (v.includes('/') ? v : `${v}/32`);
    switch (word) {
      case '!':
        negate = true;
        continue;
      case '-m': {
        const module = arg();
        if (
          ![
            'tcp',
            'udp',
            'sctp',
            'comment',
            'addrtype',
            'conntrack',
            'mark',
            'statistic',
            'recent',
            'set',
            'multiport',
            'limit',
          ].includes(module)
        )
          throw new Error(`tracer: cannot read -m ${module} in "${rule}"`);
        continue;
      }
      case '--comment':
        arg();
        continue;
      case '-p':
        if (!test(arg() === pkt.protocol.toLowerCase())) return miss;
        continue;
      case '--dport':
        if (!test(inPorts(arg(), dport))) return miss;
        continue;
      case '--dports':
        if (
          !test(
            arg()
              .split(',')
              .some((ports) => inPorts(ports, dport)),
          )
        )
          return miss;
        continue;
      case '--match-set': {
        if (!ipt.ipset) throw new Error(`tracer: ${rule} names a set, and no ipset was given`);
        const name = arg();
        const dirs = arg().split(',');
        const ip = dirs[0] === 'src' ? pkt.src : dirs[0] === 'dst' ? daddr : undefined;
        if (ip === undefined || (dirs[1] !== undefined && dirs[1] !== 'dst') || dirs.length > 2)
          throw new Error(`tracer: cannot read --match-set directions in "${rule}"`);
        const port = dirs[1] ? { protocol: pkt.protocol.toLowerCase(), port: dport } : {};
        if (!test(ipt.ipset.matches(name, { ip, ...port }))) return miss;
        continue;
      }
      case '-d':
        if (!test(inCIDR(daddr, cidr(arg())))) return miss;
        continue;
      case '-s':
        if (!test(inCIDR(pkt.src, cidr(arg())))) return miss;
        continue;
      case '--dst-type':
        if (arg() !== 'LOCAL') throw new Error(`tracer: --dst-type in "${rule}"`);
        if (!test(pkt.local.includes(daddr))) return miss;
        continue;
      case '--src-type':
        if (arg() !== 'LOCAL') throw new Error(`tracer: --src-type in "${rule}"`);
        if (!test(pkt.local.includes(pkt.src))) return miss;
        continue;
      case '--ctstate':
        if (!test(arg().split(',').includes('NEW'))) return miss;
        continue;
      case '--mark': {
        const [value, mask] = arg().split('/').map(Number) as [number, number];
        if (!test((p.mark & (mask ?? 0xffffffff)) === value)) return miss;
        continue;
      }
      case '--mode':
        if (arg() !== 'random') throw new Error(`tracer: statistic mode in "${rule}"`);
        continue;
      case '--probability':
        chance = Number(arg());
        continue;
      case '--rcheck':
        // `recent` lists learn clients as packets pass; a fake's are empty.
        if (!test(false)) return miss;
        continue;
      case '--set':
      case '--reap':
      case '--rsource':
        continue;
      case '--seconds':
      case '--name':
      case '--mask':
      case '--limit':
      case '--limit-burst':
        arg();
        continue;
      case '-j':
      case '-g': {
        const target = arg();
        const rest = w.slice(i + 1);
        // A random match splits the path: taken with `chance`, else on to the next rule.
        const taken = { ...p, probability: p.probability * chance };
        const skipped: Result[] =
          chance < 1
            ? [{ path: { ...p, probability: p.probability * (1 - chance) }, verdict: 'next' }]
            : [];
        return [...iptTarget(ipt, table, word, target, rest, pkt, taken, depth, rule), ...skipped];
      }
      default:
        throw new Error(`tracer: cannot read "${word}" in "${rule}"`);
    }
  }
  return [{ path: p, verdict: 'next' }];
}

function iptTarget(
  ipt: FakeIptables,
  table: 'nat' | 'filter',
  how: string,
  target: string,
  opts: string[],
  pkt: Packet,
  p: Path,
  depth: number,
  rule: string,
): Result[] {
  switch (target) {
    case 'RETURN':
      return [{ path: p, verdict: 'return' }];
    case 'ACCEPT':
      return [{ path: p, verdict: 'accept' }];
    case 'REJECT':
      return [{ path: p, verdict: 'reject' }];
    case 'DROP':
      return [{ path: p, verdict: 'drop' }];
    case 'MASQUERADE':
      return [{ path: { ...p, masquerade: true }, verdict: 'accept' }];
    case 'NFLOG':
      return [{ path: p, verdict: 'next' }];
    case 'DNAT': {
      const to = opts[opts.indexOf('--to-destination') + 1] ?? '';
      const [ip, port] = to.split(':');
      return [{ path: { ...p, to: { ip: ip!, port: Number(port) } }, verdict: 'accept' }];
    }
    case 'MARK': {
      const bit = Number(opts[1]);
      if (opts[0] === '--or-mark') return [{ path: { ...p, mark: p.mark | bit }, verdict: 'next' }];
      if (opts[0] === '--xor-mark')
        return [{ path: { ...p, mark: p.mark ^ bit }, verdict: 'next' }];
      if (opts[0] === '--set-xmark') {
        // value/mask: the mask's bits cleared, then the value's toggled (iptables-save's form).
        const [value, mask] = opts[1]!.split('/').map(Number) as [number, number];
        return [{ path: { ...p, mark: (p.mark & ~mask) ^ value }, verdict: 'next' }];
      }
      throw new Error(`tracer: cannot read MARK ${opts.join(' ')} in "${rule}"`);
    }
    default:
      return afterCall(
        iptChain(ipt, table, target, pkt, p, depth + 1),
        how === '-g' ? 'goto' : 'jump',
      );
  }
}
