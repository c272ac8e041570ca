// nftables mode: one table `ip podnet` whose per-packet cost does not grow with the number
// of services. Dispatch is a verdict-map lookup on `ip daddr . meta l4proto . th dport`; the
// random choice is a lookup in a *named* map shared by every service with the same endpoint
// count N, keyed by `service . numgen random mod N` (reference/kube-proxy.md measured
// anonymous per-service maps at 8.9 s for 10k services, named maps at 1.85 s). Services with
// ClientIP affinity get kube-proxy's per-service chains and per-endpoint timeout sets.
//
// The desired state is plain data (declarations, chains, elements); a sync sends the
// difference from what the last sync programmed, so the table is never listed per change.
import {
  MASQ_MARK,
  endpointHash,
  nameHash,
  portKey,
  serviceHash,
  endpointText,
  mayHairpin,
  type L4Protocol,
  type ProxyNetwork,
  type ServicePortRule,
} from './model.js';

export const TABLE = 'ip podnet';
export const CANARY = 'canary';

const PROTO_NUMBER: Record<L4Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };
const MARK = `0x${MASQ_MARK.toString(16)}`;

export interface NftState {
  /** Set or map name → its declaration body (immutable for a given name). */
  sets: Map<string, string>;
  /** Chain name → its rules. Base chains carry their hook in `baseChains`. */
  chains: Map<string, string[]>;
  /** Set or map name → element key → element text (`key` or `key : value`). */
  elements: Map<string, Map<string, string>>;
}

/** Hooked chains: name → the `type ... hook ... priority ...; policy accept;` part. */
export const BASE_CHAINS: Record<string, string> = {
  'nat-prerouting': 'type nat hook prerouting priority -100; policy accept;',
  'nat-output': 'type nat hook output priority -100; policy accept;',
  'nat-postrouting': 'type nat hook postrouting priority 100; policy accept;',
  // Before DNAT and before routing (kube-proxy's dstnat - 10): a service without endpoints is
  // refused even on a host without a route for the service range.
  'filter-prerouting': 'type filter hook prerouting priority -110; policy accept;',
  'filter-output': 'type filter hook output priority -110; policy accept;',
};

/** Sets whose elements the kernel adds (affinity): podnet never lists their elements. */
function isDynamicSet(name: string): boolean {
  return name.startsWith('aff-');
}

export function nftCounts(state: NftState): { rules: number; elements: number } {
  let rules = 0;
  let elements = 0;
  for (const lines of state.chains.values()) rules += lines.length;
  for (const els of state.elements.values()) elements += els.size;
  return { rules, elements };
}

/** The whole desired content of table `ip podnet`. */
export function desiredNft(rules: ServicePortRule[], net: ProxyNetwork): NftState {
  const sets = new Map<string, string>();
  const chains = new Map<string, string[]>();
  const elements = new Map<string, Map<string, string>>();
  const addElement = (set: string, key: string, value?: string): void => {
    let els = elements.get(set);
    if (!els) elements.set(set, (els = new Map()));
    els.set(key, value === undefined ? key : `${key} : ${value}`);
  };
  const declare = (name: string, body: string): void => {
    sets.set(name, body);
    if (!elements.has(name) && !isDynamicSet(name)) elements.set(name, new Map());
  };

  declare('service-ips', 'type ipv4_addr . inet_proto . inet_service : verdict;');
  declare('service-nodeports', 'type inet_proto . inet_service : verdict;');
  declare('no-endpoints', 'type ipv4_addr . inet_proto . inet_service;');
  declare('no-endpoint-nodeports', 'type inet_proto . inet_service;');
  declare('hairpin', 'type ipv4_addr . ipv4_addr;');

  chains.set('nat-prerouting', ['jump services']);
  chains.set('nat-output', ['jump services']);
  chains.set('services', [
    'ip daddr . meta l4proto . th dport vmap @service-ips',
    'fib daddr type local meta l4proto . th dport vmap @service-nodeports',
  ]);
  chains.set('nat-postrouting', [
    `meta mark & ${MARK} == ${MARK} meta mark set meta mark ^ ${MARK} masquerade fully-random`,
    // Hairpin: a pod reaching itself through its service.
    'ct status dnat ip saddr . ip daddr @hairpin masquerade fully-random',
    // flannel's ip-masq: pods reaching beyond the cluster leave with their host's address.
    `ip daddr ${net.clusterCIDR} return`,
    `ip daddr ${net.serviceCIDR} return`,
    'ip daddr 224.0.0.0/4 return',
    `ip saddr ${net.clusterCIDR} masquerade fully-random`,
  ]);
  for (const hook of ['filter-prerouting', 'filter-output']) {
    chains.set(hook, ['ct state new jump reject-services']);
  }
  chains.set('reject-services', [
    'ip daddr . meta l4proto . th dport @no-endpoints reject',
    'fib daddr type local meta l4proto . th dport @no-endpoint-nodeports reject',
  ]);

  const hairpin = new Set<string>();
  for (const rule of rules) {
    const proto = PROTO_NUMBER[rule.protocol];
    const key = `${rule.clusterIP} . ${proto} . ${rule.port}`;
    const npKey = rule.nodePort ? `${proto} . ${rule.nodePort}` : undefined;
    const n = rule.endpoints.length;
    if (n === 0) {
      addElement('no-endpoints', key);
      if (npKey) addElement('no-endpoint-nodeports', npKey);
      continue;
    }
    for (const ep of rule.endpoints) if (mayHairpin(ep, net)) hairpin.add(ep.ip);
    if (rule.affinitySeconds !== undefined) {
      const svc = affinityChains(rule, net, chains, sets);
      addElement('service-ips', key, `goto ${svc}`);
      if (npKey) {
        const ext = `ext-${serviceHash(rule).toLowerCase()}`;
        chains.set(ext, [`meta mark set meta mark | ${MARK}`, `goto ${svc}`]);
        addElement('service-nodeports', npKey, `goto ${ext}`);
      }
      continue;
    }
    const l4 = rule.protocol.toLowerCase();
    const backends = ensureBackendsChain(l4, n, net, chains, declare);
    addElement('service-ips', key, `goto ${backends}`);
    rule.endpoints.forEach((ep, i) => {
      addElement(backends, `${rule.clusterIP} . ${rule.port} . ${i}`, `${ep.ip} . ${ep.port}`);
    });
    if (rule.nodePort) {
      const nodePorts = ensureNodePortChain(l4, n, chains, declare);
      addElement('service-nodeports', npKey!, `goto ${nodePorts}`);
      rule.endpoints.forEach((ep, i) => {
        addElement(
          `nodeport-backends-${l4}-n${n}`,
          `${rule.nodePort} . ${i}`,
          `${ep.ip} . ${ep.port}`,
        );
      });
    }
  }
  for (const ip of hairpin) addElement('hairpin', `${ip} . ${ip}`);
  return { sets, chains, elements };
}

/**
 * The chain and map shared by every service of one protocol with `n` endpoints: the map is
 * keyed by `service . numgen random mod n`. One map per protocol keeps the key free of
 * `meta l4proto` (nft 1.0.6 cannot re-read typeof keys that mix it with `th dport`).
 */
function ensureBackendsChain(
  proto: string,
  n: number,
  net: ProxyNetwork,
  chains: Map<string, string[]>,
  declare: (name: string, body: string) => void,
): string {
  const name = `backends-${proto}-n${n}`;
  if (chains.has(name)) return name;
  declare(
    name,
    `typeof ip daddr . ${proto} dport . numgen random mod ${n} : ip daddr . ${proto} dport;`,
  );
  chains.set(name, [
    `ip saddr != ${net.clusterCIDR} meta mark set meta mark | ${MARK}`,
    `meta l4proto ${proto} dnat ip to ip daddr . ${proto} dport . numgen random mod ${n} map @${name}`,
  ]);
  return name;
}

/** Like ensureBackendsChain for NodePorts: keyed by the node port, always masqueraded. */
function ensureNodePortChain(
  proto: string,
  n: number,
  chains: Map<string, string[]>,
  declare: (name: string, body: string) => void,
): string {
  const name = `nodeport-${proto}-n${n}`;
  if (chains.has(name)) return name;
  const map = `nodeport-backends-${proto}-n${n}`;
  declare(map, `typeof ${proto} dport . numgen random mod ${n} : ip daddr . ${proto} dport;`);
  chains.set(name, [
    `meta mark set meta mark | ${MARK}`,
    `meta l4proto ${proto} dnat ip to ${proto} dport . numgen random mod ${n} map @${map}`,
  ]);
  return name;
}

/** kube-proxy's affinity layout: remembered clients first, then a random endpoint. */
function affinityChains(
  rule: ServicePortRule,
  net: ProxyNetwork,
  chains: Map<string, string[]>,
  sets: Map<string, string>,
): string {
  const svc = `svc-${serviceHash(rule).toLowerCase()}`;
  const timeout = rule.affinitySeconds!;
  const remembered: string[] = [];
  const picks: string[] = [];
  rule.endpoints.forEach((ep, i) => {
    const sep = `sep-${endpointHash(rule, ep).toLowerCase()}`;
    // The timeout is part of the set's name, so a declaration never changes under a name.
    const aff = `aff-${nameHash(portKey(rule), endpointText(ep), String(timeout)).toLowerCase()}`;
    sets.set(aff, `type ipv4_addr; flags dynamic,timeout; timeout ${timeout}s;`);
    chains.set(sep, [
      `update @${aff} { ip saddr }`,
      `meta l4proto ${rule.protocol.toLowerCase()} dnat ip to ${endpointText(ep)}`,
    ]);
    remembered.push(`ip saddr @${aff} goto ${sep}`);
    picks.push(`${i} : goto ${sep}`);
  });
  chains.set(svc, [
    `ip saddr != ${net.clusterCIDR} meta mark set meta mark | ${MARK}`,
    ...remembered,
    `numgen random mod ${rule.endpoints.length} vmap { ${picks.join(', ')} }`,
  ]);
  return svc;
}

/**
 * A separate one-rule table: listing it is cheap whatever the size of `ip podnet` (nft 1.0.6
 * fetches every set element of a table it lists: seconds at 10k services). If it is gone,
 * the ruleset was flushed (a firewall reload, `nft flush ruleset`).
 */
export const CANARY_TABLE = 'ip podnet-canary';

/**
 * The nft script that takes table `ip podnet` from `previous` (what the last sync programmed)
 * to `desired`, as one transaction. Without `previous` (start, after a flush or an error)
 * the table is replaced whole inside the transaction: no listing of the kernel's table, no
 * moment without rules, and conntrack keeps every established flow on its backend. (The
 * clients remembered for ClientIP affinity start afresh then.)
 */
export function nftScript(
  desired: NftState,
  previous: NftState | undefined,
): { text: string; changes: number } {
  if (!previous) return fullScript(desired);
  const head: string[] = [];
  const flushes: string[] = [];
  const deletions: string[] = [];
  const removals: string[] = [];
  const rules: string[] = [];
  const additions: string[] = [];

  for (const [name, body] of desired.sets) {
    if (!previous.sets.has(name)) head.push(`add ${setKind(body)} ${TABLE} ${name} { ${body} }`);
  }
  for (const [name, lines] of desired.chains) {
    const old = previous.chains.get(name);
    if (!old) head.push(`add chain ${TABLE} ${name}`);
    else if (sameLines(old, lines)) continue;
    else flushes.push(`flush chain ${TABLE} ${name}`);
    for (const line of lines) rules.push(`add rule ${TABLE} ${name} ${line}`);
  }
  for (const name of previous.chains.keys()) {
    if (desired.chains.has(name)) continue;
    flushes.push(`flush chain ${TABLE} ${name}`);
    deletions.push(`delete chain ${TABLE} ${name}`);
  }
  for (const [name, body] of previous.sets) {
    if (!desired.sets.has(name)) deletions.push(`delete ${setKind(body)} ${TABLE} ${name}`);
  }
  for (const [set, els] of desired.elements) {
    const old = previous.elements.get(set);
    const gone: string[] = [];
    const added: string[] = [];
    for (const [key, text] of els) {
      const had = old?.get(key);
      if (had === text) continue;
      if (had !== undefined) gone.push(key);
      added.push(text);
    }
    for (const key of old?.keys() ?? []) if (!els.has(key)) gone.push(key);
    if (gone.length) removals.push(`delete element ${TABLE} ${set} { ${gone.join(', ')} }`);
    if (added.length) additions.push(`add element ${TABLE} ${set} { ${added.join(', ')} }`);
  }
  // Order matters inside the transaction: nothing may refer to a chain or set when it is
  // deleted, and an element whose value changes is deleted before it is added again.
  const all = [...head, ...flushes, ...removals, ...deletions, ...rules, ...additions];
  return { text: all.length ? `${all.join('\n')}\n` : '', changes: all.length };
}

function fullScript(desired: NftState): { text: string; changes: number } {
  const out: string[] = [];
  // `add` then `delete`: works whether or not the table exists.
  for (const table of [TABLE, CANARY_TABLE])
    out.push(`add table ${table}`, `delete table ${table}`);
  out.push(`add table ${TABLE}`);
  for (const [name, body] of desired.sets) {
    out.push(`add ${setKind(body)} ${TABLE} ${name} { ${body} }`);
  }
  for (const name of desired.chains.keys()) {
    const base = BASE_CHAINS[name];
    out.push(`add chain ${TABLE} ${name}${base ? ` { ${base} }` : ''}`);
  }
  for (const [name, lines] of desired.chains) {
    for (const line of lines) out.push(`add rule ${TABLE} ${name} ${line}`);
  }
  for (const [set, els] of desired.elements) {
    if (els.size) out.push(`add element ${TABLE} ${set} { ${[...els.values()].join(', ')} }`);
  }
  out.push(`add table ${CANARY_TABLE}`, `add chain ${CANARY_TABLE} ${CANARY}`);
  out.push(`add rule ${CANARY_TABLE} ${CANARY} return`);
  return { text: `${out.join('\n')}\n`, changes: out.length };
}

/** Maps have a `key : value` type; sets do not. */
function setKind(declaration: string): 'map' | 'set' {
  return declaration.includes(' : ') ? 'map' : 'set';
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}
