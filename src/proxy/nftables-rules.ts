// nftables mode: one table `ip podnet` (and `ip6 podnet` for IPv6) whose per-packet cost does not grow with the number
// of services. Dispatch is a verdict-map lookup on `ip daddr . meta l4proto . th dport`; the
// random choice is a lookup in a *named* map shared by every service with the same protocol
// and endpoint count N, keyed by `service . numgen random mod N` (kube-proxy's
// measurements: anonymous per-service maps took 8.9 s for 10k services, named maps 1.85 s).
// Services with ClientIP affinity get kube-proxy's per-service chains and per-endpoint
// timeout sets.
//
// Each service port contributes a *fragment* (elements, and chains and sets it needs; shared
// ones are reference-counted). A service's backends are one entry: the run of its `n`
// elements, which change together. At 10k services x 10 endpoints that keeps 20k strings
// instead of 200k (the full sync's cost in the agent was its allocation, not nft's). A sync removes the fragments of changed services from the
// programmed state and adds the new ones, and sends exactly the entries that changed: the
// cost of one change does not depend on how many services exist, and the kernel's table is
// never listed.
import type { Family } from '../net/index.js';
import {
  MASQ_MARK,
  endpointHash,
  endpointText,
  familyOf,
  mayHairpin,
  natTarget,
  nameHash,
  portKey,
  serviceHash,
  type L4Protocol,
  type ProxyNetwork,
  type ServicePortRule,
} from './model.js';
import { NFT_REFUSED_LOG } from './refused-log.js';

export const TABLE = 'ip podnet';
export const CANARY = 'canary';
/** The verdict map every service's dispatch is an element of. */
export const SERVICE_MAP = 'service-ips';
/**
 * A separate one-rule table: listing it is cheap whatever the size of `ip podnet` (nft 1.0.6
 * fetches every set element of a table it lists: seconds at 10k services). If it is gone,
 * the ruleset was flushed (a firewall reload, `nft flush ruleset`).
 */
export const CANARY_TABLE = 'ip podnet-canary';

/**
 * What differs between the families' tables: each family has a table of its own (beside
 * each other, so the IPv4 table is exactly what an IPv4-only cluster has), with its address
 * match, address type and multicast range.
 */
interface NftDialect {
  table: string;
  canaryTable: string;
  /** The address match and NAT family: `ip` or `ip6`. */
  ip: 'ip' | 'ip6';
  addrType: 'ipv4_addr' | 'ipv6_addr';
  multicast: string;
}

const DIALECTS: Record<Family, NftDialect> = {
  4: {
    table: TABLE,
    canaryTable: CANARY_TABLE,
    ip: 'ip',
    addrType: 'ipv4_addr',
    multicast: '224.0.0.0/4',
  },
  6: {
    table: 'ip6 podnet',
    canaryTable: 'ip6 podnet-canary',
    ip: 'ip6',
    addrType: 'ipv6_addr',
    multicast: 'ff00::/8',
  },
};

/** The table (`family table`) of one family's proxier. */
export function tableOf(family: Family): string {
  return DIALECTS[family].table;
}

/** The canary table (`family table`) of one family's proxier. */
export function canaryTableOf(family: Family): string {
  return DIALECTS[family].canaryTable;
}

/**
 * The script that takes out one family's proxy tables, whether or not they exist (`add` then
 * `delete` in one transaction): what a host switched to iptables runs once, so that no
 * nftables portal is left to answer before the iptables one.
 */
export function removalScript(family: Family): string {
  const { table, canaryTable } = DIALECTS[family];
  return [table, canaryTable].map((t) => `add table ${t}\ndelete table ${t}\n`).join('');
}

const PROTO_NUMBER: Record<L4Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const MARK = `0x${MASQ_MARK.toString(16)}`;

/** Hooked chains: name → the `type ... hook ... priority ...; policy accept;` part. */
export const BASE_CHAINS: Record<string, string> = {
  'nat-prerouting': 'type nat hook prerouting priority -100; policy accept;',
  'nat-output': 'type nat hook output priority -100; policy accept;',
  'nat-postrouting': 'type nat hook postrouting priority 100; policy accept;',
  // Before DNAT and before routing (kube-proxy's dstnat - 10): a service without endpoints is
  // refused even on a host without a route for the service range.
  'filter-prerouting': 'type filter hook prerouting priority -110; policy accept;',
  'filter-output': 'type filter hook output priority -110; policy accept;',
  'filter-input': 'type filter hook input priority 0; policy accept;',
  'filter-forward': 'type filter hook forward priority 0; policy accept;',
};

/**
 * A UDP endpoint whose program died answers its clients with port unreachable until its
 * conntrack entries go; glibc's resolver takes that as the server refusing and fails the
 * lookup at once. Dropped, the query times out instead and is sent again, by then to a live
 * endpoint. (As nft prints it.)
 */
export function endpointUnreachableDrop(family: Family): string {
  const icmp = family === 4 ? 'icmp' : 'icmpv6';
  return `${icmp} type destination-unreachable ${icmp} code port-unreachable ct status dnat ct protocol udp drop`;
}

export interface NftState {
  /** The family whose table this is. */
  family: Family;
  /** Set or map name → its declaration body (immutable for a given name). */
  sets: Map<string, string>;
  /** Chain name → its rules. */
  chains: Map<string, string[]>;
  /**
   * Set or map name → entry key → entry text. An entry is one element (`key` or
   * `key : value`) or a run of them (`k1, k2` → `k1 : v1, k2 : v2`).
   */
  elements: Map<string, Map<string, string>>;
  /** How many elements the entries hold. */
  elementCount: number;
  /** How many fragments use a shared chain, set or hairpin element. */
  refs: Map<string, number>;
}

/** What one service port adds to the table. */
export interface Fragment {
  sets: [name: string, body: string][];
  chains: [name: string, lines: string[]][];
  /** `count`: how many elements the entry holds (see NftState.elements). */
  elements: [set: string, key: string, text: string, count: number][];
}

/** Sets whose elements the kernel adds (affinity): podnet never lists their elements. */
function isDynamicSet(name: string): boolean {
  return name.startsWith('aff-');
}

export function nftCounts(state: NftState): { rules: number; elements: number } {
  let rules = 0;
  for (const lines of state.chains.values()) rules += lines.length;
  return { rules, elements: state.elementCount };
}

/** The table with no services: dispatch, masquerade, refusal and egress rules. */
export function baseNft(net: ProxyNetwork): NftState {
  const { ip, addrType, multicast } = DIALECTS[familyOf(net)];
  const state: NftState = {
    family: familyOf(net),
    sets: new Map(),
    chains: new Map(),
    elements: new Map(),
    elementCount: 0,
    refs: new Map(),
  };
  const declare = (name: string, body: string): void => {
    state.sets.set(name, body);
    state.elements.set(name, new Map());
  };
  declare(SERVICE_MAP, `type ${addrType} . inet_proto . inet_service : verdict;`);
  declare('service-nodeports', 'type inet_proto . inet_service : verdict;');
  declare('no-endpoints', `type ${addrType} . inet_proto . inet_service;`);
  declare('no-endpoint-nodeports', 'type inet_proto . inet_service;');
  declare('hairpin', `type ${addrType} . ${addrType};`);
  const chains = state.chains;
  chains.set('nat-prerouting', ['jump services']);
  chains.set('nat-output', ['jump services']);
  chains.set('services', [
    `${ip} daddr . meta l4proto . th dport vmap @${SERVICE_MAP}`,
    'fib daddr type local meta l4proto . th dport vmap @service-nodeports',
  ]);
  chains.set('nat-postrouting', [
    `meta mark & ${MARK} == ${MARK} meta mark set meta mark ^ ${MARK} masquerade fully-random`,
    // Hairpin: a pod reaching itself through its service.
    `ct status dnat ${ip} saddr . ${ip} daddr @hairpin masquerade fully-random`,
    // flannel's ip-masq: pods reaching beyond the cluster leave with their host's address.
    `${ip} daddr ${net.clusterCIDR} return`,
    `${ip} daddr ${net.serviceCIDR} return`,
    `${ip} daddr ${multicast} return`,
    `${ip} saddr ${net.clusterCIDR} masquerade fully-random`,
  ]);
  for (const hook of ['filter-prerouting', 'filter-output']) {
    chains.set(hook, ['ct state new jump reject-services']);
  }
  for (const hook of ['filter-input', 'filter-forward']) {
    chains.set(hook, [endpointUnreachableDrop(familyOf(net))]);
  }
  const noEndpoints = `${ip} daddr . meta l4proto . th dport @no-endpoints`;
  const noEndpointNodePorts = 'fib daddr type local meta l4proto . th dport @no-endpoint-nodeports';
  chains.set('reject-services', [
    `${noEndpoints} ${NFT_REFUSED_LOG}`,
    `${noEndpoints} reject`,
    `${noEndpointNodePorts} ${NFT_REFUSED_LOG}`,
    `${noEndpointNodePorts} reject`,
  ]);
  return state;
}

/** The whole desired content of the family's table (`ip podnet`, `ip6 podnet`). */
export function desiredNft(rules: ServicePortRule[], net: ProxyNetwork): NftState {
  const state = baseNft(net);
  for (const rule of rules) addFragment(state, ruleFragment(rule, net));
  return state;
}

/** What one service port needs in the table. */
export function ruleFragment(rule: ServicePortRule, net: ProxyNetwork): Fragment {
  const f: Fragment = { sets: [], chains: [], elements: [] };
  const proto = PROTO_NUMBER[rule.protocol];
  const key = `${rule.clusterIP} . ${proto} . ${rule.port}`;
  const npKey = rule.nodePort ? `${proto} . ${rule.nodePort}` : undefined;
  const n = rule.endpoints.length;
  if (n === 0) {
    f.elements.push(['no-endpoints', key, key, 1]);
    if (npKey) f.elements.push(['no-endpoint-nodeports', npKey, npKey, 1]);
    return f;
  }
  for (const ep of rule.endpoints) {
    if (mayHairpin(ep, net)) {
      const pair = `${ep.ip} . ${ep.ip}`;
      f.elements.push(['hairpin', pair, pair, 1]);
    }
  }
  if (rule.affinitySeconds !== undefined) {
    const svc = affinityChains(rule, net, f);
    f.elements.push([SERVICE_MAP, key, `${key} : goto ${svc}`, 1]);
    if (npKey) {
      const ext = `ext-${serviceHash(rule).toLowerCase()}`;
      f.chains.push([ext, [`meta mark set meta mark | ${MARK}`, `goto ${svc}`]]);
      f.elements.push(['service-nodeports', npKey, `${npKey} : goto ${ext}`, 1]);
    }
    return f;
  }
  const l4 = rule.protocol.toLowerCase();
  const backends = backendsChain(l4, n, net, f);
  f.elements.push([SERVICE_MAP, key, `${key} : goto ${backends}`, 1]);
  f.elements.push(endpointRun(backends, `${rule.clusterIP} . ${rule.port}`, rule));
  if (rule.nodePort) {
    const nodePorts = nodePortChain(l4, n, net, f);
    f.elements.push(['service-nodeports', npKey!, `${npKey} : goto ${nodePorts}`, 1]);
    f.elements.push(endpointRun(`nodeport-backends-${l4}-n${n}`, String(rule.nodePort), rule));
  }
  return f;
}

/** The entry `prefix . i : endpoint i` for every endpoint, as one run (see NftState). */
function endpointRun(
  map: string,
  prefix: string,
  rule: ServicePortRule,
): [string, string, string, number] {
  const keys: string[] = [];
  const texts: string[] = [];
  for (let i = 0; i < rule.endpoints.length; i++) {
    const ep = rule.endpoints[i]!;
    const k = `${prefix} . ${i}`;
    keys.push(k);
    texts.push(`${k} : ${ep.ip} . ${ep.port}`);
  }
  return [map, keys.join(', '), texts.join(', '), keys.length];
}

/**
 * The chain and map shared by every service of one protocol with `n` endpoints: the map is
 * keyed by `service . numgen random mod n`. One map per protocol keeps the key free of
 * `meta l4proto` (nft 1.0.6 cannot re-read typeof keys that mix it with `th dport`).
 */
function backendsChain(proto: string, n: number, net: ProxyNetwork, f: Fragment): string {
  const { ip } = DIALECTS[familyOf(net)];
  const name = `backends-${proto}-n${n}`;
  f.sets.push([
    name,
    `typeof ${ip} daddr . ${proto} dport . numgen random mod ${n} : ${ip} daddr . ${proto} dport;`,
  ]);
  f.chains.push([
    name,
    [
      `${ip} saddr != ${net.clusterCIDR} meta mark set meta mark | ${MARK}`,
      `meta l4proto ${proto} dnat ${ip} to ${ip} daddr . ${proto} dport . numgen random mod ${n} map @${name}`,
    ],
  ]);
  return name;
}

/** Like backendsChain for NodePorts: keyed by the node port, always masqueraded. */
function nodePortChain(proto: string, n: number, net: ProxyNetwork, f: Fragment): string {
  const { ip } = DIALECTS[familyOf(net)];
  const name = `nodeport-${proto}-n${n}`;
  const map = `nodeport-backends-${proto}-n${n}`;
  f.sets.push([
    map,
    `typeof ${proto} dport . numgen random mod ${n} : ${ip} daddr . ${proto} dport;`,
  ]);
  f.chains.push([
    name,
    [
      `meta mark set meta mark | ${MARK}`,
      `meta l4proto ${proto} dnat ${ip} to ${proto} dport . numgen random mod ${n} map @${map}`,
    ],
  ]);
  return name;
}

/** kube-proxy's affinity layout: remembered clients first, then a random endpoint. */
function affinityChains(rule: ServicePortRule, net: ProxyNetwork, f: Fragment): string {
  const family = familyOf(net);
  const { ip, addrType } = DIALECTS[family];
  const svc = `svc-${serviceHash(rule).toLowerCase()}`;
  const timeout = rule.affinitySeconds!;
  const remembered: string[] = [];
  const picks: string[] = [];
  rule.endpoints.forEach((ep, i) => {
    const sep = `sep-${endpointHash(rule, ep).toLowerCase()}`;
    // The timeout is part of the set's name, so a declaration never changes under a name.
    const aff = `aff-${nameHash(portKey(rule), endpointText(ep), String(timeout)).toLowerCase()}`;
    f.sets.push([aff, `type ${addrType}; flags dynamic,timeout; timeout ${timeout}s;`]);
    f.chains.push([
      sep,
      [
        `update @${aff} { ${ip} saddr }`,
        `meta l4proto ${rule.protocol.toLowerCase()} dnat ${ip} to ${natTarget(ep, family)}`,
      ],
    ]);
    remembered.push(`${ip} saddr @${aff} goto ${sep}`);
    picks.push(`${i} : goto ${sep}`);
  });
  f.chains.push([
    svc,
    [
      `${ip} saddr != ${net.clusterCIDR} meta mark set meta mark | ${MARK}`,
      ...remembered,
      `numgen random mod ${rule.endpoints.length} vmap { ${picks.join(', ')} }`,
    ],
  ]);
  return svc;
}

function incRef(state: NftState, ref: string): number {
  const n = (state.refs.get(ref) ?? 0) + 1;
  state.refs.set(ref, n);
  return n;
}

function decRef(state: NftState, ref: string): number {
  const n = (state.refs.get(ref) ?? 1) - 1;
  if (n > 0) state.refs.set(ref, n);
  else state.refs.delete(ref);
  return n;
}

export function addFragment(state: NftState, f: Fragment): void {
  for (const [name, body] of f.sets) {
    if (incRef(state, `set:${name}`) > 1) continue;
    state.sets.set(name, body);
    if (!isDynamicSet(name)) state.elements.set(name, new Map());
  }
  for (const [name, lines] of f.chains) {
    if (incRef(state, `chain:${name}`) === 1) state.chains.set(name, lines);
  }
  for (const [set, key, text, count] of f.elements) {
    // Hairpin entries are per endpoint IP, which several services may share.
    if (set === 'hairpin' && incRef(state, `hairpin:${key}`) > 1) continue;
    state.elements.get(set)!.set(key, text);
    state.elementCount += count;
  }
}

export function removeFragment(state: NftState, f: Fragment): void {
  for (const [set, key, , count] of f.elements) {
    if (set === 'hairpin' && decRef(state, `hairpin:${key}`) > 0) continue;
    if (state.elements.get(set)?.delete(key)) state.elementCount -= count;
  }
  for (const [name] of f.chains) {
    if (decRef(state, `chain:${name}`) === 0) state.chains.delete(name);
  }
  for (const [name] of f.sets) {
    if (decRef(state, `set:${name}`) > 0) continue;
    state.sets.delete(name);
    state.elements.delete(name);
  }
}

/** What a partial sync touches, recorded before the state changes. */
interface Before {
  sets: Map<string, string | undefined>;
  chains: Map<string, string[] | undefined>;
  elements: Map<string, Map<string, string | undefined>>;
}

/**
 * Replaces fragments in `state` (mutated: it becomes the new programmed state) and returns the
 * nft script that makes the kernel follow, touching only what these fragments concern.
 */
export function applyFragments(state: NftState, removed: Fragment[], added: Fragment[]): string {
  const { table } = DIALECTS[state.family];
  const before: Before = { sets: new Map(), chains: new Map(), elements: new Map() };
  for (const f of [...removed, ...added]) {
    for (const [name] of f.sets)
      if (!before.sets.has(name)) before.sets.set(name, state.sets.get(name));
    for (const [name] of f.chains) {
      if (!before.chains.has(name)) before.chains.set(name, state.chains.get(name));
    }
    for (const [set, key] of f.elements) {
      let els = before.elements.get(set);
      if (!els) before.elements.set(set, (els = new Map()));
      if (!els.has(key)) els.set(key, state.elements.get(set)?.get(key));
    }
  }
  for (const f of removed) removeFragment(state, f);
  for (const f of added) addFragment(state, f);

  const head: string[] = [];
  const flushes: string[] = [];
  const removals: string[] = [];
  const deletions: string[] = [];
  const setDeletions: string[] = [];
  const rules: string[] = [];
  const additions: string[] = [];
  for (const [name, old] of before.sets) {
    const now = state.sets.get(name);
    if (!old && now) head.push(`add ${setKind(now)} ${table} ${name} { ${now} }`);
    if (old && !now) setDeletions.push(`delete ${setKind(old)} ${table} ${name}`);
  }
  for (const [name, old] of before.chains) {
    const now = state.chains.get(name);
    if (old && now && sameLines(old, now)) continue;
    if (!old && now) head.push(`add chain ${table} ${name}`);
    if (old) flushes.push(`flush chain ${table} ${name}`);
    if (old && !now) deletions.push(`delete chain ${table} ${name}`);
    for (const line of now ?? []) rules.push(`add rule ${table} ${name} ${line}`);
  }
  for (const [set, keys] of before.elements) {
    const now = state.elements.get(set);
    const setWasThere = before.sets.has(set) ? !!before.sets.get(set) : true;
    const gone: string[] = [];
    const added: string[] = [];
    for (const [key, old] of keys) {
      const text = now?.get(key);
      if (old === text) continue;
      if (old !== undefined && text !== undefined) {
        changedElements(key, old, text, gone, added);
        continue;
      }
      // Elements of a set deleted whole go with it; a new set starts empty.
      if (old !== undefined && now && setWasThere) gone.push(key);
      if (text !== undefined) added.push(text);
    }
    if (gone.length) removals.push(`delete element ${table} ${set} { ${gone.join(', ')} }`);
    if (added.length) additions.push(`add element ${table} ${set} { ${added.join(', ')} }`);
  }
  // Order matters inside the transaction: nothing may refer to a chain or set when it is
  // deleted, and an element whose value changes is deleted before it is added again.
  const all = [
    ...head,
    ...flushes,
    ...removals,
    ...deletions,
    ...setDeletions,
    ...rules,
    ...additions,
  ];
  return all.length ? `${all.join('\n')}\n` : '';
}

/**
 * An entry under the same key whose text changed: only its elements that differ are deleted
 * and added again (one endpoint of a run of ten changes one element). The same key means the
 * same keys in the same order, so old and new elements pair up by position.
 */
function changedElements(
  key: string,
  old: string,
  text: string,
  gone: string[],
  added: string[],
): void {
  const keys = key.split(', ');
  const olds = old.split(', ');
  const news = text.split(', ');
  for (let i = 0; i < keys.length; i++) {
    if (olds[i] === news[i]) continue;
    gone.push(keys[i]!);
    added.push(news[i]!);
  }
}

/**
 * The script that replaces the family's table whole, in one transaction (start, after a flush
 * or an error): no listing of the kernel's table, no moment without rules, and conntrack
 * keeps every established flow on its backend. (Clients remembered for ClientIP affinity
 * start afresh then.)
 */
export function fullScript(desired: NftState): string {
  const { table, canaryTable } = DIALECTS[desired.family];
  const out: string[] = [];
  // `add` then `delete`: works whether or not the table exists.
  for (const t of [table, canaryTable]) out.push(`add table ${t}`, `delete table ${t}`);
  out.push(`add table ${table}`);
  for (const [name, body] of desired.sets) {
    out.push(`add ${setKind(body)} ${table} ${name} { ${body} }`);
  }
  for (const name of desired.chains.keys()) {
    const base = BASE_CHAINS[name];
    out.push(`add chain ${table} ${name}${base ? ` { ${base} }` : ''}`);
  }
  for (const [name, lines] of desired.chains) {
    for (const line of lines) out.push(`add rule ${table} ${name} ${line}`);
  }
  for (const [set, els] of desired.elements) {
    if (els.size) out.push(`add element ${table} ${set} { ${[...els.values()].join(', ')} }`);
  }
  out.push(`add table ${canaryTable}`, `add chain ${canaryTable} ${CANARY}`);
  out.push(`add rule ${canaryTable} ${CANARY} return`);
  return `${out.join('\n')}\n`;
}

/** Maps have a `key : value` type; sets do not. */
function setKind(declaration: string): 'map' | 'set' {
  return declaration.includes(' : ') ? 'map' : 'set';
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}
