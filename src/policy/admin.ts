// The admin tiers around NetworkPolicy, as the network-policy-api project defines them: for one
// pod and direction, the AdminNetworkPolicies whose subject holds the pod (lowest priority
// first; the first rule that matches decides: Allow and Deny end the judgement, Pass hands it
// to NetworkPolicy), then NetworkPolicy, then the BaselineAdminNetworkPolicy only when no
// NetworkPolicy isolates the pod in that direction, then allow. Admin peers and ports are read
// here as NetworkPolicy peers and ports, so the evaluator and both renderings reuse theirs.
import { selectorMatches } from '../api/label-selector.js';
import type {
  AdminNetworkPolicy,
  AdminNetworkPolicyAction,
  AdminNetworkPolicyPeer,
  AdminNetworkPolicyPort,
  BaselineAdminNetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Pod,
  PolicyType,
  Protocol,
} from '../api/types.js';
import { peerMatches, portMatches, type Destination, type Peer } from './rules.js';

export type AdminTier = 'Admin' | 'Baseline';

/** One admin rule in NetworkPolicy's terms: peers OR, ports OR (none = all), peers AND ports. */
export interface AdminRule {
  /** `anp/NAME` or `banp/NAME`, then the rule: its name, or its place (`ingress[0]`). */
  policy: string;
  rule: string;
  action: AdminNetworkPolicyAction;
  peers: NetworkPolicyPeer[];
  ports: NetworkPolicyPort[];
}

/** The admin objects of a cluster, as the evaluator and renderings take them. */
export interface AdminPolicies {
  admin: readonly AdminNetworkPolicy[];
  baseline: readonly BaselineAdminNetworkPolicy[];
}

export const NO_ADMIN_POLICIES: AdminPolicies = { admin: [], baseline: [] };

const PROTOCOLS: Protocol[] = ['TCP', 'UDP', 'SCTP'];

/**
 * An admin peer as NetworkPolicy peers: `namespaces` is a namespaceSelector alone (every pod
 * there), `pods` both selectors, each network an ipBlock. A peer of a kind podnet does not know
 * (admission refuses them) stands for nothing, so an Allow never widens on it.
 */
export function asNetworkPolicyPeers(peer: AdminNetworkPolicyPeer): NetworkPolicyPeer[] {
  if (peer.namespaces) return [{ namespaceSelector: peer.namespaces }];
  if (peer.pods) {
    return [{ namespaceSelector: peer.pods.namespaceSelector, podSelector: peer.pods.podSelector }];
  }
  return (peer.networks ?? []).map((cidr) => ({ ipBlock: { cidr } }));
}

/** An admin port as NetworkPolicy ports; a named port keeps its container's protocol, any. */
export function asNetworkPolicyPorts(port: AdminNetworkPolicyPort): NetworkPolicyPort[] {
  if (port.portNumber) return [{ protocol: port.portNumber.protocol, port: port.portNumber.port }];
  if (port.portRange) {
    const { protocol, start, end } = port.portRange;
    return [{ protocol, port: start, endPort: end }];
  }
  if (port.namedPort) return PROTOCOLS.map((protocol) => ({ protocol, port: port.namedPort }));
  return [];
}

export function adminPolicyName(policy: AdminNetworkPolicy | BaselineAdminNetworkPolicy): string {
  return `${policy.kind === 'AdminNetworkPolicy' ? 'anp' : 'banp'}/${policy.metadata.name}`;
}

/** How drops and denied connections name an admin rule: `anp/NAME rule RULE`. */
export function adminRuleName(rule: AdminRule): string {
  return `${rule.policy} rule ${rule.rule}`;
}

/** A policy's rules in one direction, in their order, in NetworkPolicy's terms. */
export function adminRules(
  policy: AdminNetworkPolicy | BaselineAdminNetworkPolicy,
  direction: PolicyType,
): AdminRule[] {
  const name = adminPolicyName(policy);
  const field = direction === 'Ingress' ? 'ingress' : 'egress';
  const rules =
    direction === 'Ingress'
      ? (policy.spec.ingress ?? []).map((r) => ({ ...r, peers: r.from }))
      : (policy.spec.egress ?? []).map((r) => ({ ...r, peers: r.to }));
  return rules.map((r, i) => ({
    policy: name,
    rule: r.name ?? `${field}[${i}]`,
    action: r.action,
    peers: r.peers.flatMap(asNetworkPolicyPeers),
    ports: (r.ports ?? []).flatMap(asNetworkPolicyPorts),
  }));
}

/** Whether the subject holds the pod (its namespace's labels as selectors see them). */
export function subjectHolds(
  subject: AdminNetworkPolicyPeer,
  pod: Pod,
  namespaceLabels: Record<string, string>,
): boolean {
  if (subject.namespaces) return selectorMatches(subject.namespaces, namespaceLabels);
  if (subject.pods) {
    return (
      selectorMatches(subject.pods.namespaceSelector, namespaceLabels) &&
      selectorMatches(subject.pods.podSelector, pod.metadata.labels)
    );
  }
  return false;
}

/**
 * The order the admin policies are judged in: priority, lowest first. Equal priorities are
 * undefined upstream; here the name breaks the tie, so every node and trace agree.
 */
export function byPriority(policies: readonly AdminNetworkPolicy[]): AdminNetworkPolicy[] {
  return [...policies].sort(
    (a, b) => a.spec.priority - b.spec.priority || a.metadata.name.localeCompare(b.metadata.name),
  );
}

/** One admin policy as the tiers read it: whom it holds, and its rules per direction. */
interface TierPolicy {
  subject: AdminNetworkPolicyPeer;
  rules: Record<PolicyType, AdminRule[]>;
}

/** The admin policies read once for every pod they are asked about: in judging order. */
export interface AdminTiers {
  admin: readonly TierPolicy[];
  baseline: readonly TierPolicy[];
}

function tierPolicy(policy: AdminNetworkPolicy | BaselineAdminNetworkPolicy): TierPolicy {
  return {
    subject: policy.spec.subject,
    rules: { Ingress: adminRules(policy, 'Ingress'), Egress: adminRules(policy, 'Egress') },
  };
}

export function adminTiers(policies: AdminPolicies): AdminTiers {
  return {
    admin: byPriority(policies.admin).map(tierPolicy),
    baseline: policies.baseline.map(tierPolicy),
  };
}

/** What judges one pod in one direction beside NetworkPolicy. */
export interface PodAdminTiers {
  /** The admin rules of the policies whose subject holds the pod, in judging order. */
  admin: AdminRule[];
  /** The baseline's rules, when its subject holds the pod and no NetworkPolicy isolates it. */
  baseline: AdminRule[];
  /** The same for every pod the same policies hold (within one AdminTiers). */
  key: string;
}

export function podAdminTiers(
  pod: Pod,
  direction: PolicyType,
  namespaceLabels: () => Record<string, string>,
  tiers: AdminTiers,
  isolatedByNetworkPolicy: boolean,
): PodAdminTiers {
  const out: PodAdminTiers = { admin: [], baseline: [], key: '' };
  if (tiers.admin.length + tiers.baseline.length === 0) return out;
  const labels = namespaceLabels();
  const held = (list: readonly TierPolicy[]) =>
    list.flatMap((p, i) => (subjectHolds(p.subject, pod, labels) ? [i] : []));
  const admin = held(tiers.admin);
  const baseline = isolatedByNetworkPolicy ? [] : held(tiers.baseline);
  out.admin = admin.flatMap((i) => tiers.admin[i]!.rules[direction]);
  out.baseline = baseline.flatMap((i) => tiers.baseline[i]!.rules[direction]);
  out.key = `${direction} ${admin.join(',')} ${baseline.join(',')}`;
  return out;
}

/** Whether an admin rule matches: some peer AND (no ports, or some port). */
export function adminRuleMatches(rule: AdminRule, peer: Peer, dst: Destination): boolean {
  return (
    rule.peers.some((p) => peerMatches(p, '', peer)) &&
    (rule.ports.length === 0 || rule.ports.some((p) => portMatches(p, dst)))
  );
}
