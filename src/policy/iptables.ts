// NetworkPolicy as ipsets and `PODNET-NP-` chains in the filter table: the iptables twin of the
// nftables table, with the same semantics and hook placement (pure: the desired state, and the
// restore text that takes a node's filter table there).
//
// Hooks: FORWARD jumps to PODNET-NP-FORWARD (egress of the source, then ingress of the
// destination) and INPUT to PODNET-NP-INPUT (egress of a pod reaching its own node). Both come
// after the service DNAT in nat PREROUTING, so rules see the backend pod and its target port.
// Replies (ESTABLISHED,RELATED) return first; the pod's own node always gets in (probes).
//
// An allowed direction RETURNs rather than ACCEPTs: ACCEPT would end the whole FORWARD chain
// and skip the destination's ingress (and anyone else's rules there), where nft's accept ends
// only its own base chain. Policy chains therefore set a mark bit of their own on a match, and
// the pod's chain returns on that bit after each policy, else drops. The bit is cleared before
// each direction is judged and again after it, so it never leaves podnet's chains.
//
// Layout, so that pod and label churn change set members and not rules:
// - PODNET-NP-EGRESS / -INGRESS dispatch a LOCAL isolated pod by an ipset of the pods that
//   share one set of isolating policies to that set's chain (PODNET-NP-EG-… / -IN-…, same name
//   as the ipset). A pod joining or leaving such a group is a member change; a new combination
//   of policies needs its chain and its one dispatch rule (iptables has no verdict maps);
// - one chain per policy and direction (PODNET-NP-EGP-… / -INP-…), one rule per (peer, port
//   match) of each of its rules, marking what it admits;
// - `hash:ip` sets per selector peer (pod addresses), `hash:net` sets per ipBlock and its
//   excepts, `hash:ip,port` sets of `address,protocol:port` for named ports resolved on every
//   pod that names them. Numeric ports are in the rules (`--dport lo:hi`, `multiport`): they
//   change only when a policy does.
// - a pod an AdminNetworkPolicy or the BaselineAdminNetworkPolicy speaks about is dispatched
//   to a tier chain instead (PODNET-NP-EGT-… / -INT-…): the admin rules in priority order
//   with their own verdicts, then the isolation chain above, or the baseline's chain
//   (PODNET-NP-EGB-… / -INB-…) when no NetworkPolicy isolates the pod. A Deny rule goes to
//   a chain of its own (PODNET-NP-EGD-… / -IND-…) that logs and counts what it drops.
// A node with no isolated local pod has nothing: no chains, no jump rules, no sets.
// IPv4 only, like the nftables table.
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
import { formatCidr, tryParseCidr, type Cidr } from '../net/index.js';
import { ClusterIndex } from './cluster-index.js';
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

/** Every chain and ipset the policy datapath owns starts with this; nothing else does. */
export const POLICY_PREFIX = 'PODNET-NP-';
export const FORWARD_CHAIN = 'PODNET-NP-FORWARD';
export const INPUT_CHAIN = 'PODNET-NP-INPUT';
export const EGRESS_CHAIN = 'PODNET-NP-EGRESS';
export const INGRESS_CHAIN = 'PODNET-NP-INGRESS';

/** The mark bit a policy chain sets on a connection it admits (podnet's proxy uses 0x4000). */
export const ADMIT_MARK = 0x10000;
const MARK = `0x${ADMIT_MARK.toString(16)}`;
const SET_MARK = `-j MARK --set-xmark ${MARK}/${MARK}`;
const CLEAR_MARK = `-j MARK --set-xmark 0x0/${MARK}`;

/** The kinds of ipset the rendering uses. */
export type PolicySetType = 'hash:ip' | 'hash:net' | 'hash:ip,port';

export interface PolicySet {
  name: string;
  type: PolicySetType;
  /** As `ipset save` prints them: `10.0.0.1`, `10.0.0.0/8`, `10.0.0.1,tcp:80`. */
  members: string[];
}

/** A rule in a built-in chain of the filter table that sends packets into podnet's. */
export interface PolicyJump {
  chain: 'FORWARD' | 'INPUT';
  /** As `iptables-save` prints it, without `-A CHAIN`. */
  spec: string;
}

export const POLICY_JUMPS: PolicyJump[] = [
  { chain: 'FORWARD', spec: `-m comment --comment "podnet network policy" -j ${FORWARD_CHAIN}` },
  { chain: 'INPUT', spec: `-m comment --comment "podnet network policy" -j ${INPUT_CHAIN}` },
];

export interface PolicyIptables {
  sets: PolicySet[];
  /** Filter-table chains → their rules as `iptables-save` prints them (without `-A CHAIN`). */
  chains: Map<string, string[]>;
  jumps: PolicyJump[];
  /**
   * The chains that end in `-j DROP`, and what each stands for: an isolation chain its
   * policies, an admin Deny rule's chain that rule.
   */
  isolation: Map<string, DropChain>;
}

const PROTOCOLS: Protocol[] = ['TCP', 'UDP', 'SCTP'];
/** `multiport` takes at most 15 ports, a range counting as two. */
const MULTIPORT_SLOTS = 15;

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

interface State {
  sets: Map<string, PolicySet>;
  chains: Map<string, string[]>;
  /** Tier chains by the pod tiers' key and what follows them: named once per render. */
  tiers: Map<string, string>;
  /** The chains that end in `-j DROP`, and what each stands for. */
  dropping: Map<string, DropChain>;
  log: PolicyLogOptions | undefined;
}

function declare(state: State, name: string, type: PolicySetType, members: () => string[]): string {
  if (!state.sets.has(name)) state.sets.set(name, { name, type, members: members() });
  return name;
}

function ipv4Cidr(text: string): Cidr | undefined {
  const cidr = tryParseCidr(text, { loose: true });
  return cidr?.family === 4 ? cidr : undefined;
}

/** A prefix as a `hash:net` member: ipset prints a /32 bare and refuses a /0, held as two /1s. */
function netMembers(cidr: Cidr): string[] {
  if (cidr.prefix === 0) return ['0.0.0.0/1', '128.0.0.0/1'];
  const text = formatCidr(cidr);
  return cidr.prefix === 32 ? [text.slice(0, -3)] : [text];
}

/** The pods a selector peer stands for, as a set shared by every rule with that peer. */
function selectorSet(
  state: State,
  index: ClusterIndex,
  peer: NetworkPolicyPeer,
  policyNamespace: string,
): string {
  const key = JSON.stringify([
    peer.namespaceSelector ? '' : policyNamespace,
    peer.namespaceSelector ?? null,
    peer.podSelector ?? null,
  ]);
  return declare(state, `${POLICY_PREFIX}SEL-${hash(key)}`, 'hash:ip', () =>
    index.selectorMembers(peer, policyNamespace),
  );
}

/** The match of an ipBlock peer, or undefined when it cannot hold an IPv4 address. */
function ipBlockMatch(
  state: State,
  block: NonNullable<NetworkPolicyPeer['ipBlock']>,
  dir: 'src' | 'dst',
): string | undefined {
  const cidr = ipv4Cidr(block.cidr);
  if (!cidr) return undefined;
  const net = declare(state, `${POLICY_PREFIX}NET-${hash(formatCidr(cidr))}`, 'hash:net', () =>
    netMembers(cidr),
  );
  // hash:net takes nested prefixes as they are: an except inside another needs no care.
  const excepts = [
    ...new Set((block.except ?? []).flatMap((t) => ipv4Cidr(t) ?? []).flatMap(netMembers)),
  ].sort();
  const match = `-m set --match-set ${net} ${dir}`;
  if (excepts.length === 0) return match;
  const except = declare(
    state,
    `${POLICY_PREFIX}EXC-${hash(excepts.join(','))}`,
    'hash:net',
    () => excepts,
  );
  return `${match} -m set ! --match-set ${except} ${dir}`;
}

/** A rule's port half: `-p` (printed first by iptables-save) and the match after the peer. */
interface PortMatch {
  protocol?: string;
  match: string;
}

/** Numeric ports of one protocol as merged `[first, last]` ranges. */
function mergedRanges(ports: NetworkPolicyPort[]): [number, number][] {
  const ranges = ports
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
  return merged;
}

function numericPortMatches(ports: NetworkPolicyPort[]): PortMatch[] {
  const out: PortMatch[] = [];
  for (const protocol of PROTOCOLS) {
    const ranges = mergedRanges(ports.filter((p) => (p.protocol ?? 'TCP') === protocol));
    const proto = protocol.toLowerCase();
    const text = ([lo, hi]: [number, number]) => (lo === hi ? `${lo}` : `${lo}:${hi}`);
    if (ranges.length === 0) continue;
    if (ranges[0]![0] === 0 && ranges[0]![1] === 65535) {
      out.push({ protocol: proto, match: '' });
    } else if (ranges.length === 1) {
      out.push({ protocol: proto, match: `-m ${proto} --dport ${text(ranges[0]!)}` });
    } else {
      const chunks: string[][] = [[]];
      let slots = 0;
      for (const range of ranges) {
        const need = range[0] === range[1] ? 1 : 2;
        if (slots + need > MULTIPORT_SLOTS) {
          chunks.push([]);
          slots = 0;
        }
        chunks[chunks.length - 1]!.push(text(range));
        slots += need;
      }
      for (const chunk of chunks)
        out.push({ protocol: proto, match: `-m multiport --dports ${chunk.join(',')}` });
    }
  }
  return out;
}

/** A named port resolved on every pod that has it: `address,protocol:number`. */
function namedPortMembers(index: ClusterIndex, named: NetworkPolicyPort[]): string[] {
  const out = new Set(
    index.namedPortMembers(named).map((m) => `${m.ip},${m.protocol.toLowerCase()}:${m.port}`),
  );
  return [...out].sort();
}

/** The port halves of a rule's matches: ports OR, so each protocol and named ports apart. */
function portMatches(state: State, index: ClusterIndex, ports: NetworkPolicyPort[]): PortMatch[] {
  if (ports.length === 0) return [{ match: '' }];
  const out = numericPortMatches(ports.filter((p) => typeof p.port !== 'string'));
  const named = ports.filter((p) => typeof p.port === 'string');
  if (named.length) {
    const key = named.map((p) => `${p.protocol ?? 'TCP'}/${p.port as string}`).sort();
    const set = declare(state, `${POLICY_PREFIX}PORT-${hash(key.join(','))}`, 'hash:ip,port', () =>
      namedPortMembers(index, named),
    );
    // The destination address and port (and its protocol) are what names a pod's port.
    out.push({ match: `-m set --match-set ${set} dst,dst` });
  }
  return out;
}

const short = (direction: PolicyType) => (direction === 'Ingress' ? 'IN' : 'EG');

function policyChain(policy: NetworkPolicy, direction: PolicyType): string {
  return `${POLICY_PREFIX}${short(direction)}P-${hash(policyName(policy))}`;
}

/**
 * The matches of one rule, one per (peer, port match): peers OR, ports OR. No peers means
 * every peer (NetworkPolicy's reading); a peer that cannot hold an IPv4 address gives none.
 */
function ruleMatches(
  state: State,
  index: ClusterIndex,
  rule: { peers: NetworkPolicyPeer[]; ports: NetworkPolicyPort[] },
  namespace: string,
  dir: 'src' | 'dst',
): string[] {
  const peers =
    rule.peers.length === 0
      ? ['']
      : rule.peers.flatMap((peer) => {
          if (peer.ipBlock) return ipBlockMatch(state, peer.ipBlock, dir) ?? [];
          return `-m set --match-set ${selectorSet(state, index, peer, namespace)} ${dir}`;
        });
  const ports = portMatches(state, index, rule.ports);
  return peers.flatMap((peer) =>
    ports.map((port) => {
      const proto = port.protocol ? `-p ${port.protocol}` : '';
      return [proto, peer, port.match].filter(Boolean).join(' ');
    }),
  );
}

const peerDir = (direction: PolicyType) => (direction === 'Ingress' ? 'src' : 'dst');

/** One rule per (peer, port match) of each rule of the policy, marking what it admits. */
function renderPolicy(
  state: State,
  index: ClusterIndex,
  policy: NetworkPolicy,
  direction: PolicyType,
): void {
  const chain = policyChain(policy, direction);
  if (state.chains.has(chain)) return;
  const namespace = policy.metadata.namespace ?? '';
  const lines = directionRules(policy, direction).flatMap((rule) =>
    ruleMatches(state, index, rule, namespace, peerDir(direction)).map((m) =>
      [m, SET_MARK].filter(Boolean).join(' '),
    ),
  );
  state.chains.set(chain, lines);
}

/**
 * Admin rules in their order, each match ending in the rule's verdict: Allow returns (the
 * direction is allowed; the other one is still judged), Deny drops, Pass goes on to `next`.
 * An admin peer always names someone, so a rule whose peers all fell away matches nothing.
 */
function adminRuleLines(
  state: State,
  index: ClusterIndex,
  rules: readonly AdminRule[],
  direction: PolicyType,
  next: string,
): string[] {
  return rules.flatMap((rule) => {
    if (rule.peers.length === 0) return [];
    const verdict =
      rule.action === 'Allow'
        ? '-j RETURN'
        : rule.action === 'Pass'
          ? next
          : `-g ${denyChain(state, rule, direction)}`;
    return ruleMatches(state, index, rule, '', peerDir(direction)).map((m) =>
      [m, verdict].filter(Boolean).join(' '),
    );
  });
}

/**
 * The chain an admin Deny rule drops in: of its own, so that its drops are counted and logged
 * under its name the way an isolation chain's are under its policies'.
 */
function denyChain(state: State, rule: AdminRule, direction: PolicyType): string {
  const chain = `${POLICY_PREFIX}${short(direction)}D-${hash(JSON.stringify([rule.policy, rule.rule]))}`;
  if (!state.chains.has(chain)) {
    state.chains.set(chain, [...logLines(chain, state.log), '-j DROP']);
    state.dropping.set(chain, { direction, policies: [adminRuleName(rule)] });
  }
  return chain;
}

/** The rate-limited NFLOG rule that comes before a drop, when the log is asked for. */
function logLines(chain: string, log: PolicyLogOptions | undefined): string[] {
  // The prefix names the chain, which the reader maps back to what it stands for.
  return log
    ? [
        `-m limit --limit ${log.perSecond}/sec --limit-burst ${log.perSecond} -j NFLOG --nflog-prefix ${chain} --nflog-group ${log.group}`,
      ]
    : [];
}

/**
 * The chain (and ipset of pods) of a pod the admin tiers speak about: the admin rules by
 * priority, then NetworkPolicy's isolation chain or, when none isolates the pod, the
 * baseline's rules (a chain of their own, so that a Pass can skip the admin rules left).
 */
function tierChain(
  state: State,
  index: ClusterIndex,
  tiers: PodAdminTiers,
  isolation: string | undefined,
  direction: PolicyType,
): string {
  const memo = `${tiers.key} ${isolation ?? ''}`;
  const known = state.tiers.get(memo);
  if (known) return known;
  let next = isolation ? `-g ${isolation}` : '-j RETURN';
  if (!isolation && tiers.baseline.length > 0) {
    const baseline = `${POLICY_PREFIX}${short(direction)}B-${hash(JSON.stringify(tiers.baseline))}`;
    if (!state.chains.has(baseline)) {
      const lines = adminRuleLines(state, index, tiers.baseline, direction, '-j RETURN');
      state.chains.set(baseline, lines);
    }
    next = `-g ${baseline}`;
  }
  const chain = `${POLICY_PREFIX}${short(direction)}T-${hash(JSON.stringify([tiers.admin, next]))}`;
  if (!state.chains.has(chain)) {
    const lines = adminRuleLines(state, index, tiers.admin, direction, next);
    state.chains.set(chain, [...lines, next]);
    state.sets.set(chain, { name: chain, type: 'hash:ip', members: [] });
  }
  state.tiers.set(memo, chain);
  return chain;
}

/** The chain (and ipset of pods) of one set of isolating policies: each policy, then drop. */
function isolationChain(
  state: State,
  index: ClusterIndex,
  policies: NetworkPolicy[],
  direction: PolicyType,
): string {
  const names = policies.map(policyName).sort();
  const chain = `${POLICY_PREFIX}${short(direction)}-${hash(names.join(','))}`;
  if (!state.chains.has(chain)) {
    const sorted = [...policies].sort((a, b) => policyName(a).localeCompare(policyName(b)));
    const lines = [CLEAR_MARK];
    for (const policy of sorted) {
      renderPolicy(state, index, policy, direction);
      lines.push(
        `-m comment --comment "policy ${policyName(policy)}" -j ${policyChain(policy, direction)}`,
        `-m mark --mark ${MARK}/${MARK} -j RETURN`,
      );
    }
    state.chains.set(chain, [...lines, ...logLines(chain, state.log), '-j DROP']);
    state.sets.set(chain, { name: chain, type: 'hash:ip', members: [] });
    state.dropping.set(chain, { direction, policies: names });
  }
  return chain;
}

export function renderPolicyIptables(
  policies: readonly NetworkPolicy[],
  namespaces: readonly Namespace[],
  pods: readonly Pod[],
  localPods: readonly Pod[],
  log?: PolicyLogOptions,
  admin: AdminPolicies = NO_ADMIN_POLICIES,
): PolicyIptables {
  const index = new ClusterIndex({ policies, namespaces, pods });
  const prepared = adminTiers(admin);
  const state: State = {
    sets: new Map(),
    chains: new Map(),
    tiers: new Map(),
    dropping: new Map(),
    log,
  };
  const dispatch = { Egress: new Set<string>(), Ingress: new Set<string>() };
  for (const pod of localPods) {
    const addresses = index.ipv4(pod);
    if (addresses.length === 0) continue;
    const labels = () => index.namespaceLabels(pod.metadata.namespace ?? '');
    for (const direction of ['Egress', 'Ingress'] as const) {
      const isolating = isolatingPolicies(pod, direction, policies);
      const tiers = podAdminTiers(pod, direction, labels, prepared, isolating.length > 0);
      const judged = tiers.admin.length + tiers.baseline.length > 0;
      if (isolating.length === 0 && !judged) continue;
      let chain: string | undefined;
      if (isolating.length > 0) chain = isolationChain(state, index, isolating, direction);
      if (judged) chain = tierChain(state, index, tiers, chain, direction);
      dispatch[direction].add(chain!);
      state.sets.get(chain!)!.members.push(...addresses);
    }
  }
  if (dispatch.Egress.size + dispatch.Ingress.size === 0) {
    return { sets: [], chains: new Map(), jumps: [], isolation: state.dropping };
  }
  const established = '-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN';
  // Dispatch by goto: the group's chain returns straight to the caller, PODNET-NP-FORWARD.
  const dispatchTo = (chains: Set<string>, dir: 'src' | 'dst') =>
    [...chains].sort().map((c) => `-m set --match-set ${c} ${dir} -g ${c}`);
  const chains = new Map<string, string[]>([
    [
      FORWARD_CHAIN,
      [
        established,
        `-j ${EGRESS_CHAIN}`,
        CLEAR_MARK,
        '-m addrtype --src-type LOCAL -j RETURN',
        `-j ${INGRESS_CHAIN}`,
        CLEAR_MARK,
      ],
    ],
    [INPUT_CHAIN, [established, `-j ${EGRESS_CHAIN}`, CLEAR_MARK]],
    [EGRESS_CHAIN, dispatchTo(dispatch.Egress, 'src')],
    [INGRESS_CHAIN, dispatchTo(dispatch.Ingress, 'dst')],
    ...state.chains,
  ]);
  const sets = [...state.sets.values()]
    .map((s) => ({ ...s, members: [...new Set(s.members)].sort() }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { sets, chains, jumps: POLICY_JUMPS, isolation: state.dropping };
}

/** What an `iptables-save -t filter` holds of the policy datapath. */
interface Programmed {
  chains: Map<string, string[]>;
  jumps: PolicyJump[];
}

function readSave(filterSave: string): Programmed {
  const chains = new Map<string, string[]>();
  const lines = filterSave.split('\n');
  for (const line of lines) {
    const declared = /^:(\S+) /.exec(line);
    if (declared?.[1]!.startsWith(POLICY_PREFIX)) chains.set(declared[1], []);
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (rule && chains.has(rule[1]!)) chains.get(rule[1]!)!.push(rule[2]!);
  }
  const jumps = POLICY_JUMPS.filter((j) => lines.includes(`-A ${j.chain} ${j.spec}`));
  return { chains, jumps };
}

/**
 * The `iptables-restore --noflush` input that takes the filter table from what `filterSave`
 * shows to `desired`, touching only podnet's policy chains and its jump rules: chains whose
 * rules differ are rewritten whole, chains no longer wanted are emptied and deleted. Empty
 * when the kernel already holds `desired` (pod and label churn: only set members changed).
 */
export function policyRestore(desired: PolicyIptables, filterSave: string): string {
  const had = readSave(filterSave);
  const write = [...desired.chains].filter(([name, lines]) => {
    const old = had.chains.get(name);
    return !old || old.length !== lines.length || old.some((l, i) => l !== lines[i]);
  });
  const stale = [...had.chains.keys()].filter((name) => !desired.chains.has(name));
  const addJumps = desired.jumps.filter((j) => !had.jumps.includes(j));
  const dropJumps = had.jumps.filter((j) => !desired.jumps.includes(j));
  if (!write.length && !stale.length && !addJumps.length && !dropJumps.length) return '';
  const out = ['*filter'];
  // A `:CHAIN` line creates the chain or empties it (with --noflush, only the chains named).
  for (const [name] of write) out.push(`:${name} - [0:0]`);
  for (const name of stale) out.push(`:${name} - [0:0]`);
  for (const [name, lines] of write) for (const line of lines) out.push(`-A ${name} ${line}`);
  for (const j of dropJumps) out.push(`-D ${j.chain} ${j.spec}`);
  for (const j of addJumps) out.push(`-I ${j.chain} 1 ${j.spec}`);
  // Deleted last: by now nothing refers to them.
  for (const name of stale) out.push(`-X ${name}`);
  out.push('COMMIT');
  return `${out.join('\n')}\n`;
}
