// The NetworkPolicy verdict on one new connection, exactly as upstream defines it: the
// specification in code that the datapath is tested against and that trace explains with.
// A connection needs its source's egress AND its destination's ingress. In each direction a pod
// is isolated only when a policy of its namespace selects it with that policy type; then the
// union of those policies' rules is what it may do, else everything. Replies are never judged
// (conntrack lets them through), so a verdict is for the first packet of a connection.
// AdminNetworkPolicy is judged before NetworkPolicy and the BaselineAdminNetworkPolicy after
// it, in each direction (see admin.ts).
import { selectorMatches } from '../api/label-selector.js';
import { effectivePolicyTypes } from '../api/network-policy.js';
import type {
  AdminNetworkPolicy,
  AdminNetworkPolicyAction,
  BaselineAdminNetworkPolicy,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
  PolicyType,
  Protocol,
} from '../api/types.js';
import { parseIP, sameIP, tryParseIP } from '../net/index.js';
import {
  adminRuleMatches,
  adminTiers,
  podAdminTiers,
  type AdminRule,
  type AdminTier,
} from './admin.js';
import { directionRules, podAddresses, ruleAdmits, type Destination, type Peer } from './rules.js';

/** Every namespace carries its name as this label (set by the API server, immutable). */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** One end of a connection: a pod, or an address (with its node when it is a node's). */
export type Endpoint = { pod: Pod } | { ip: string; node?: string };

export interface Connection {
  src: Endpoint;
  /** After service DNAT: the backend pod and its target port, never a cluster IP. */
  dst: Endpoint;
  protocol: Protocol;
  port: number;
}

export interface Cluster {
  pods: readonly Pod[];
  namespaces: readonly Namespace[];
  policies: readonly NetworkPolicy[];
  /** For knowing a node's own addresses (probes from the node are always let in). */
  nodes?: readonly Node[];
  adminPolicies?: readonly AdminNetworkPolicy[];
  baselinePolicies?: readonly BaselineAdminNetworkPolicy[];
}

/** The admin rule that decided a direction, or handed it on to NetworkPolicy (Pass). */
export interface AdminDecision {
  tier: AdminTier;
  /** `anp/NAME` or `banp/NAME`. */
  policy: string;
  /** The rule's name, or its place (`ingress[0]`) when it has none. */
  rule: string;
  action: AdminNetworkPolicyAction;
}

/** `namespace/name` of a policy. */
export type PolicyName = string;

export interface DirectionVerdict {
  /** Some policy selecting the pod has this direction in its policyTypes. */
  isolated: boolean;
  allowed: boolean;
  /**
   * Allowed: the isolating policies whose rules admit the connection. Denied: every policy that
   * isolates the pod in this direction (none of them admits it).
   */
  policies: PolicyName[];
  /** Ingress from the destination's own node (kubelet probes): allowed whatever isolates it. */
  fromOwnNode?: boolean;
  /** An admin rule decided (then `policies` names its policy alone). */
  admin?: AdminDecision;
  /** An admin rule passed the connection on to NetworkPolicy before anything decided. */
  passedBy?: AdminDecision;
}

export interface Verdict {
  allowed: boolean;
  /** The direction that denied it (egress is judged first, as the packet meets it first). */
  direction?: 'Egress' | 'Ingress';
  /** The policies that decided: the denying direction's isolating ones, or all that allowed. */
  by: PolicyName[];
  /** Absent when the source is not a pod. */
  egress?: DirectionVerdict;
  /** Absent when the destination is not a pod. */
  ingress?: DirectionVerdict;
}

export function policyName(policy: NetworkPolicy): PolicyName {
  return `${policy.metadata.namespace ?? ''}/${policy.metadata.name}`;
}

/** An address that a pod holds is that pod, whichever way the caller named it. */
function resolve(end: Endpoint, cluster: Cluster): Endpoint {
  if ('pod' in end) return end;
  const ip = parseIP(end.ip);
  const pod = cluster.pods.find((p) => podAddresses(p).some((a) => sameIP(a, ip)));
  return pod ? { pod } : end;
}

/** A namespace's labels with its automatic name label, as selectors see them. */
export function namespaceLabels(name: string, cluster: Cluster): Record<string, string> {
  const ns = cluster.namespaces.find((n) => n.metadata.name === name);
  return { ...ns?.metadata.labels, [NAMESPACE_NAME_LABEL]: name };
}

function asPeer(end: Endpoint, cluster: Cluster): Peer {
  if ('pod' in end) {
    return {
      pod: end.pod,
      namespaceLabels: namespaceLabels(end.pod.metadata.namespace ?? '', cluster),
    };
  }
  return { ip: parseIP(end.ip) };
}

/** The policies that isolate `pod` in `direction`. */
export function isolatingPolicies(
  pod: Pod,
  direction: PolicyType,
  policies: readonly NetworkPolicy[],
): NetworkPolicy[] {
  return policies.filter(
    (p) =>
      p.metadata.namespace === pod.metadata.namespace &&
      effectivePolicyTypes(p.spec).includes(direction) &&
      selectorMatches(p.spec.podSelector ?? {}, pod.metadata.labels),
  );
}

const decision = (tier: AdminTier, rule: AdminRule): AdminDecision => ({
  tier,
  policy: rule.policy,
  rule: rule.rule,
  action: rule.action,
});

function judge(
  pod: Pod,
  direction: PolicyType,
  peer: Peer,
  dst: Destination,
  cluster: Cluster,
): DirectionVerdict {
  const isolating = isolatingPolicies(pod, direction, cluster.policies);
  const isolated = isolating.length > 0;
  const tiers = podAdminTiers(
    pod,
    direction,
    () => namespaceLabels(pod.metadata.namespace ?? '', cluster),
    adminTiers({ admin: cluster.adminPolicies ?? [], baseline: cluster.baselinePolicies ?? [] }),
    isolated,
  );
  let passedBy: AdminDecision | undefined;
  for (const rule of tiers.admin) {
    if (!adminRuleMatches(rule, peer, dst)) continue;
    if (rule.action === 'Pass') {
      passedBy = decision('Admin', rule);
      break;
    }
    const allowed = rule.action === 'Allow';
    return { isolated, allowed, policies: [rule.policy], admin: decision('Admin', rule) };
  }
  const passed = passedBy ? { passedBy } : {};
  if (!isolated) {
    const rule = tiers.baseline.find((r) => adminRuleMatches(r, peer, dst));
    if (rule) {
      const allowed = rule.action === 'Allow';
      const admin = decision('Baseline', rule);
      return { isolated, allowed, policies: [rule.policy], admin, ...passed };
    }
    return { isolated: false, allowed: true, policies: [], ...passed };
  }
  const admitting = isolating.filter((policy) =>
    directionRules(policy, direction).some((rule) => ruleAdmits(rule, policy, peer, dst)),
  );
  const allowed = admitting.length > 0;
  return {
    isolated: true,
    allowed,
    policies: (allowed ? admitting : isolating).map(policyName),
    ...passed,
  };
}

/** Whether `end` is an address of `pod`'s own node. */
function fromOwnNode(end: Endpoint, pod: Pod, cluster: Cluster): boolean {
  if ('pod' in end || !pod.spec.nodeName) return false;
  if (end.node !== undefined) return end.node === pod.spec.nodeName;
  const node = cluster.nodes?.find((n) => n.metadata.name === pod.spec.nodeName);
  const addresses = [
    pod.status?.hostIP,
    ...(node?.status?.addresses ?? []).filter((a) => a.type !== 'Hostname').map((a) => a.address),
  ];
  const ip = parseIP(end.ip);
  return addresses.some((a) => {
    const have = a === undefined ? undefined : tryParseIP(a);
    return have !== undefined && sameIP(have, ip);
  });
}

export function evaluate(connection: Connection, cluster: Cluster): Verdict {
  const src = resolve(connection.src, cluster);
  const dst = resolve(connection.dst, cluster);
  const target: Destination = {
    ...('pod' in dst ? { pod: dst.pod } : {}),
    protocol: connection.protocol,
    port: connection.port,
  };
  const egress =
    'pod' in src ? judge(src.pod, 'Egress', asPeer(dst, cluster), target, cluster) : undefined;
  let ingress: DirectionVerdict | undefined;
  if ('pod' in dst) {
    ingress = fromOwnNode(src, dst.pod, cluster)
      ? {
          isolated: isolatingPolicies(dst.pod, 'Ingress', cluster.policies).length > 0,
          allowed: true,
          policies: [],
          fromOwnNode: true,
        }
      : judge(dst.pod, 'Ingress', asPeer(src, cluster), target, cluster);
  }
  const sides = { ...(egress ? { egress } : {}), ...(ingress ? { ingress } : {}) };
  if (egress && !egress.allowed) {
    return { allowed: false, direction: 'Egress', by: egress.policies, ...sides };
  }
  if (ingress && !ingress.allowed) {
    return { allowed: false, direction: 'Ingress', by: ingress.policies, ...sides };
  }
  const by = [...new Set([...(egress?.policies ?? []), ...(ingress?.policies ?? [])])];
  return { allowed: true, by, ...sides };
}
