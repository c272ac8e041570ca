// NetworkPolicy as an nftables table, rendered whole from the cluster as a node sees it (pure:
// the script is the desired state; applying and diffing it belong to the kernel edge).
//
// Hooks: egress and ingress are judged in `forward` (pod to pod, pod to anywhere off the
// node) and egress also in `input` (a pod reaching its own node). Both hooks come after
// prerouting, so after the service DNAT (prerouting priority -100): the rules see the backend
// pod and its target port, never a cluster IP, as upstream defines it. The chains sit at the
// `filter` priority (0); ingress at filter + 10 so that an egress `accept` (which ends only
// its own base chain) still meets the destination's ingress.
//
// Layout, so that pod and label churn change set elements and not rules:
// - `egress-pods`/`ingress-pods`: verdict maps from a LOCAL isolated pod's address to the
//   chain of the policies that isolate it (one chain per distinct set of policies, shared by
//   every pod with that set); a pod no policy isolates has no element and is let through;
// - one chain per policy and direction, one rule per (peer, port kind) of each of its rules,
//   accepting what it admits; the pod's chain jumps to each, then drops;
// - named sets per selector peer (pod addresses), interval sets per ipBlock and its
//   excepts, interval sets of `protocol . port` (endPort ranges), and for named ports sets
//   of `pod address . protocol . port` resolved on every pod that names that port.
// - a pod an AdminNetworkPolicy or the BaselineAdminNetworkPolicy speaks about points at a
//   tier chain instead: the admin rules in priority order with their own verdicts, then the
//   isolation chain above, or the baseline's chain when no NetworkPolicy isolates the pod.
//   A Deny rule goes to a chain of its own (`deny-…`) that logs and counts what it drops.
// IPv4 only, like the service table.
import { createHash } from 'node:crypto';
import type {
  Namespace,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Pod,
  PolicyType,
  Protocol,
} from '../api/types.js';
import { containsCidr, formatCidr, tryParseCidr, type Cidr } from '../net/index.js';
import { ClusterIndex, type NamedPortMember } from './cluster-index.js';
import {
  NO_ADMIN_POLICIES,
  adminRuleName,
  adminTiers,
  podAdminTiers,
  type AdminPolicies,
  type AdminRule,
  type PodAdminTiers,
} from './admin.js';
import { isolatingPolicies, policyName } from './evaluate.js';
import { directionRules } from './rules.js';
import type { DropChain, PolicyLogOptions } from './datapath.js';

/** A table of its own: the service table is replaced whole on resync, policy is not. */
export const POLICY_TABLE = 'ip podnet-policy';

export const EGRESS_MAP = 'egress-pods';
export const INGRESS_MAP = 'ingress-pods';

export const POLICY_BASE_CHAINS: Record<string, string> = {
  'egress-forward': 'type filter hook forward priority 0; policy accept;',
  'egress-input': 'type filter hook input priority 0; policy accept;',
  'ingress-forward': 'type filter hook forward priority 10; policy accept;',
};

const PROTO_NUMBER: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

export interface RenderOptions {
  /** Defaults to POLICY_TABLE. */
  table?: string;
}

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** What a table holds, in the order a script must create it. */
interface TableState {
  sets: Map<string, { body: string; elements: string[] }>;
  chains: Map<string, string[]>;
  /** Tier chains by the pod tiers' key and what follows them: named once per render. */
  tiers: Map<string, string>;
  /** The chains that end in a counted drop, and what each stands for. */
  dropping: Map<string, DropChain>;
  log: PolicyLogOptions | undefined;
}

function declare(state: TableState, name: string, body: string, elements: () => string[]): void {
  if (!state.sets.has(name)) state.sets.set(name, { body, elements: elements() });
}

function ipv4Cidr(text: string): Cidr | undefined {
  const cidr = tryParseCidr(text, { loose: true });
  return cidr?.family === 4 ? cidr : undefined;
}

/** The pods a selector peer stands for, as a set shared by every rule with that peer. */
function selectorSet(
  state: TableState,
  index: ClusterIndex,
  peer: NetworkPolicyPeer,
  policyNamespace: string,
): string {
  const scope = peer.namespaceSelector ? { namespaceSelector: peer.namespaceSelector } : {};
  const key = JSON.stringify([
    peer.namespaceSelector ? '' : policyNamespace,
    scope,
    peer.podSelector,
  ]);
  const name = `sel-${hash(key)}`;
  declare(state, name, 'type ipv4_addr;', () => index.selectorMembers(peer, policyNamespace));
  return name;
}

/** Interval sets refuse overlapping elements: an except inside another is left out. */
function outermost(cidrs: Cidr[]): Cidr[] {
  const kept: Cidr[] = [];
  for (const c of [...cidrs].sort((a, b) => a.prefix - b.prefix))
    if (!kept.some((k) => containsCidr(k, c))) kept.push(c);
  return kept;
}

/** The match of an ipBlock peer, or undefined when it cannot hold an IPv4 address. */
function ipBlockMatch(
  state: TableState,
  block: NonNullable<NetworkPolicyPeer['ipBlock']>,
  addr: string,
): string | undefined {
  const cidr = ipv4Cidr(block.cidr);
  if (!cidr) return undefined;
  const blockSet = `blk-${hash(formatCidr(cidr))}`;
  declare(state, blockSet, 'type ipv4_addr; flags interval;', () => [formatCidr(cidr)]);
  const excepts = outermost((block.except ?? []).flatMap((t) => ipv4Cidr(t) ?? []))
    .map(formatCidr)
    .sort();
  if (excepts.length === 0) return `${addr} @${blockSet}`;
  const exceptSet = `exc-${hash(excepts.join(','))}`;
  declare(state, exceptSet, 'type ipv4_addr; flags interval;', () => excepts);
  return `${addr} @${blockSet} ${addr} != @${exceptSet}`;
}

/** Numeric ports as `protocol . first-last` intervals, merged where they touch or overlap. */
function portIntervals(ports: NetworkPolicyPort[]): string[] {
  const out: string[] = [];
  for (const protocol of Object.keys(PROTO_NUMBER) as Protocol[]) {
    const ranges = ports
      .filter((p) => (p.protocol ?? 'TCP') === protocol)
      .map((p): [number, number] =>
        p.port === undefined ? [0, 65535] : [p.port as number, p.endPort ?? (p.port as number)],
      )
      .sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const [lo, hi] of ranges) {
      const last = merged[merged.length - 1];
      if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
      else merged.push([lo, hi]);
    }
    for (const [lo, hi] of merged)
      out.push(`${PROTO_NUMBER[protocol]} . ${lo === hi ? lo : `${lo}-${hi}`}`);
  }
  return out;
}

/** A named port's element text, made once per member (members live as long as their pod). */
const elementText = new WeakMap<NamedPortMember, string>();

/** A named port resolved on every pod that has it: `address . protocol . number`. */
function namedPortElements(index: ClusterIndex, named: NetworkPolicyPort[]): string[] {
  const out = new Set<string>();
  for (const m of index.namedPortMembers(named)) {
    let text = elementText.get(m);
    if (text === undefined) {
      text = `${m.ip} . ${PROTO_NUMBER[m.protocol]} . ${m.port}`;
      elementText.set(m, text);
    }
    out.add(text);
  }
  return [...out].sort();
}

/** The port halves of a rule's matches: ports OR, so numeric and named are two matches. */
function portMatches(state: TableState, index: ClusterIndex, ports: NetworkPolicyPort[]): string[] {
  if (ports.length === 0) return [''];
  const out: string[] = [];
  const numeric = ports.filter((p) => typeof p.port !== 'string');
  if (numeric.length) {
    const elements = portIntervals(numeric);
    const name = `ports-${hash(elements.join(','))}`;
    declare(state, name, 'type inet_proto . inet_service; flags interval;', () => elements);
    out.push(`meta l4proto . th dport @${name}`);
  }
  const named = ports.filter((p) => typeof p.port === 'string');
  if (named.length) {
    const key = named.map((p) => `${p.protocol ?? 'TCP'}/${p.port as string}`).sort();
    const name = `named-${hash(key.join(','))}`;
    declare(state, name, 'type ipv4_addr . inet_proto . inet_service;', () =>
      namedPortElements(index, named),
    );
    out.push(`ip daddr . meta l4proto . th dport @${name}`);
  }
  return out;
}

function policyChain(policy: NetworkPolicy, direction: PolicyType): string {
  return `pol-${hash(policyName(policy))}-${direction === 'Ingress' ? 'in' : 'eg'}`;
}

/**
 * The matches of one rule, one per (peer, port kind): peers OR, ports OR. No peers means every
 * peer (NetworkPolicy's reading); a peer that cannot hold an IPv4 address gives no match.
 */
function ruleMatches(
  state: TableState,
  index: ClusterIndex,
  rule: { peers: NetworkPolicyPeer[]; ports: NetworkPolicyPort[] },
  namespace: string,
  addr: string,
): string[] {
  const peers =
    rule.peers.length === 0
      ? ['']
      : rule.peers.flatMap((peer) => {
          if (peer.ipBlock) return ipBlockMatch(state, peer.ipBlock, addr) ?? [];
          return `${addr} @${selectorSet(state, index, peer, namespace)}`;
        });
  const ports = portMatches(state, index, rule.ports);
  return peers.flatMap((peer) => ports.map((port) => [peer, port].filter(Boolean).join(' ')));
}

const peerAddress = (direction: PolicyType) => (direction === 'Ingress' ? 'ip saddr' : 'ip daddr');

/** One rule per (peer, port kind) of each rule of the policy, accepting what it admits. */
function renderPolicy(
  state: TableState,
  index: ClusterIndex,
  policy: NetworkPolicy,
  direction: PolicyType,
): void {
  const chain = policyChain(policy, direction);
  if (state.chains.has(chain)) return;
  const namespace = policy.metadata.namespace ?? '';
  const lines = directionRules(policy, direction).flatMap((rule) =>
    ruleMatches(state, index, rule, namespace, peerAddress(direction)).map((m) =>
      [m, 'accept'].filter(Boolean).join(' '),
    ),
  );
  state.chains.set(chain, lines);
}

/**
 * Admin rules in their order, each match ending in the rule's verdict: Allow accepts, Deny
 * drops, Pass goes on to `next`. An admin peer always names someone, so a rule whose peers
 * all fell away (no IPv4 address) matches nothing rather than everyone.
 */
function adminRuleLines(
  state: TableState,
  index: ClusterIndex,
  rules: readonly AdminRule[],
  direction: PolicyType,
  next: string,
): string[] {
  return rules.flatMap((rule) => {
    if (rule.peers.length === 0) return [];
    const verdict =
      rule.action === 'Allow'
        ? 'accept'
        : rule.action === 'Pass'
          ? next
          : `goto ${denyChain(state, rule, direction)}`;
    return ruleMatches(state, index, rule, '', peerAddress(direction)).map(
      (m) => `${m} ${verdict}`,
    );
  });
}

/**
 * The chain an admin Deny rule drops in: of its own, so that its drops are counted and logged
 * under its name the way an isolation chain's are under its policies'.
 */
function denyChain(state: TableState, rule: AdminRule, direction: PolicyType): string {
  const chain = `deny-${direction === 'Ingress' ? 'in' : 'eg'}-${hash(JSON.stringify([rule.policy, rule.rule]))}`;
  if (!state.chains.has(chain)) {
    state.chains.set(chain, [...logLines(chain, state.log), COUNTED_DROP]);
    state.dropping.set(chain, { direction, policies: [adminRuleName(rule)] });
  }
  return chain;
}

/** The rate-limited log line that comes before a counted drop, when the log is asked for. */
function logLines(chain: string, log: PolicyLogOptions | undefined): string[] {
  // The prefix names the chain, which the log's reader maps back to what it stands for.
  return log
    ? [
        `limit rate ${log.perSecond}/second burst ${log.perSecond} packets log prefix "${chain}" group ${log.group}`,
      ]
    : [];
}

/**
 * The chain of a pod the admin tiers speak about: the admin rules by priority, then what
 * NetworkPolicy says (its isolation chain) or, when none isolates the pod, the baseline's
 * rules (a chain of their own, so that a Pass can skip the admin rules left), then accept.
 */
function tierChain(
  state: TableState,
  index: ClusterIndex,
  tiers: PodAdminTiers,
  isolation: string | undefined,
  direction: PolicyType,
): string {
  const memo = `${tiers.key} ${isolation ?? ''}`;
  const known = state.tiers.get(memo);
  if (known) return known;
  const short = direction === 'Ingress' ? 'in' : 'eg';
  let next = isolation ? `goto ${isolation}` : 'accept';
  if (!isolation && tiers.baseline.length > 0) {
    const baseline = `base-${short}-${hash(JSON.stringify(tiers.baseline))}`;
    if (!state.chains.has(baseline)) {
      const lines = adminRuleLines(state, index, tiers.baseline, direction, 'accept');
      state.chains.set(baseline, [...lines, 'accept']);
    }
    next = `goto ${baseline}`;
  }
  const chain = `tier-${short}-${hash(JSON.stringify([tiers.admin, next]))}`;
  if (!state.chains.has(chain)) {
    const lines = adminRuleLines(state, index, tiers.admin, direction, next);
    state.chains.set(chain, [...lines, next]);
  }
  state.tiers.set(memo, chain);
  return chain;
}

/** The chain of one set of isolating policies: each policy's rules, then drop. */
function isolationChain(
  state: TableState,
  index: ClusterIndex,
  policies: NetworkPolicy[],
  direction: PolicyType,
): string {
  const names = policies.map(policyName).sort();
  const chain = `${direction === 'Ingress' ? 'in' : 'eg'}-${hash(names.join(','))}`;
  if (!state.chains.has(chain)) {
    const sorted = [...policies].sort((a, b) => policyName(a).localeCompare(policyName(b)));
    for (const policy of sorted) renderPolicy(state, index, policy, direction);
    state.chains.set(chain, [
      ...sorted.map((p) => `jump ${policyChain(p, direction)}`),
      ...logLines(chain, state.log),
      COUNTED_DROP,
    ]);
    state.dropping.set(chain, { direction, policies: names });
  }
  return chain;
}

/** The table a node wants: its sets with their elements and its chains with their rules. */
export interface PolicyTable {
  sets: ReadonlyMap<string, { body: string; elements: readonly string[] }>;
  chains: ReadonlyMap<string, readonly string[]>;
  /**
   * The chains that end in a counted drop, and what each stands for: an isolation chain its
   * policies, an admin Deny rule's chain that rule.
   */
  isolation: ReadonlyMap<string, DropChain>;
}

/** The drop that ends an isolation or Deny chain, counted so drops can be read per policy. */
export const COUNTED_DROP = 'counter drop';

export function desiredPolicyTable(
  policies: readonly NetworkPolicy[],
  namespaces: readonly Namespace[],
  pods: readonly Pod[],
  localPods: readonly Pod[],
  log?: PolicyLogOptions,
  admin: AdminPolicies = NO_ADMIN_POLICIES,
): PolicyTable {
  const index = new ClusterIndex({ policies, namespaces, pods });
  const prepared = adminTiers(admin);
  const state: TableState = {
    sets: new Map(),
    chains: new Map(),
    tiers: new Map(),
    dropping: new Map(),
    log,
  };
  state.sets.set(EGRESS_MAP, { body: 'type ipv4_addr : verdict;', elements: [] });
  state.sets.set(INGRESS_MAP, { body: 'type ipv4_addr : verdict;', elements: [] });
  const established = 'ct state established,related accept';
  state.chains.set('egress-forward', [established, `ip saddr vmap @${EGRESS_MAP}`]);
  state.chains.set('egress-input', [established, `ip saddr vmap @${EGRESS_MAP}`]);
  // The pod's own node always gets in (kubelet probes), whatever isolates the pod. Its own
  // packets leave through output and never meet this chain; this is for node-sourced packets
  // that come back in through prerouting (another namespace of the host holding its address).
  state.chains.set('ingress-forward', [
    established,
    'fib saddr type local accept',
    `ip daddr vmap @${INGRESS_MAP}`,
  ]);
  for (const pod of localPods) {
    const labels = () => index.namespaceLabels(pod.metadata.namespace ?? '');
    for (const [direction, map] of [
      ['Egress', EGRESS_MAP],
      ['Ingress', INGRESS_MAP],
    ] as const) {
      const isolating = isolatingPolicies(pod, direction, policies);
      const tiers = podAdminTiers(pod, direction, labels, prepared, isolating.length > 0);
      const judged = tiers.admin.length + tiers.baseline.length > 0;
      if (isolating.length === 0 && !judged) continue;
      let chain: string | undefined;
      if (isolating.length > 0) chain = isolationChain(state, index, isolating, direction);
      if (judged) chain = tierChain(state, index, tiers, chain, direction);
      for (const ip of index.ipv4(pod)) state.sets.get(map)!.elements.push(`${ip} : goto ${chain}`);
    }
  }
  for (const set of state.sets.values()) set.elements.sort();
  return { sets: state.sets, chains: state.chains, isolation: state.dropping };
}

/** The script that creates `desired` in a table that does not exist yet. */
export function policyTableScript(desired: PolicyTable, table = POLICY_TABLE): string {
  const out = [`add table ${table}`];
  for (const [name, set] of desired.sets)
    out.push(`add ${set.body.includes(' : ') ? 'map' : 'set'} ${table} ${name} { ${set.body} }`);
  for (const name of desired.chains.keys()) {
    const base = POLICY_BASE_CHAINS[name];
    out.push(`add chain ${table} ${name}${base ? ` { ${base} }` : ''}`);
  }
  for (const [name, lines] of desired.chains)
    for (const line of lines) out.push(`add rule ${table} ${name} ${line}`);
  for (const [name, set] of desired.sets)
    if (set.elements.length)
      out.push(`add element ${table} ${name} { ${set.elements.join(', ')} }`);
  return `${out.join('\n')}\n`;
}

export function renderPolicyTable(
  policies: readonly NetworkPolicy[],
  namespaces: readonly Namespace[],
  pods: readonly Pod[],
  localPods: readonly Pod[],
  opts: RenderOptions = {},
  admin: AdminPolicies = NO_ADMIN_POLICIES,
): string {
  return policyTableScript(
    desiredPolicyTable(policies, namespaces, pods, localPods, undefined, admin),
    opts.table,
  );
}
