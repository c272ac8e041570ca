// AdminNetworkPolicy and BaselineAdminNetworkPolicy admission as the upstream
// network-policy-api CRDs check it: the defaults they write (port protocols), and the checks
// their schema states in words or CEL (one field of a subject, peer or port; a range in
// order; the baseline named `default` and without Pass), each naming the field at fault.
import { tryParseCidr } from '../net/index.js';
import type {
  AdminNetworkPolicy,
  AdminNetworkPolicyEgressRule,
  AdminNetworkPolicyIngressRule,
  AdminNetworkPolicyPeer,
  AdminNetworkPolicyPort,
  BaselineAdminNetworkPolicy,
} from './types.js';

type AnyAdminPolicy = AdminNetworkPolicy | BaselineAdminNetworkPolicy;

/** The one BaselineAdminNetworkPolicy a cluster may hold is named this. */
export const BASELINE_NAME = 'default';

export function defaultAdminNetworkPolicy(policy: AnyAdminPolicy): void {
  for (const rule of [...(policy.spec.ingress ?? []), ...(policy.spec.egress ?? [])]) {
    for (const port of rule.ports ?? []) {
      if (port.portNumber) port.portNumber.protocol ??= 'TCP';
      if (port.portRange) port.portRange.protocol ??= 'TCP';
    }
  }
}

export function adminNetworkPolicyProblems(policy: AnyAdminPolicy): string[] {
  const problems: string[] = [];
  const baseline = policy.kind === 'BaselineAdminNetworkPolicy';
  if (baseline && policy.metadata.name !== BASELINE_NAME) {
    problems.push(
      `metadata.name: a BaselineAdminNetworkPolicy must be named "${BASELINE_NAME}", got ${JSON.stringify(policy.metadata.name)}`,
    );
  }
  problems.push(...peerProblems(policy.spec.subject, 'spec.subject', false));
  const rules = (
    list: (AdminNetworkPolicyIngressRule | AdminNetworkPolicyEgressRule)[] | undefined,
    at: string,
    peersOf: (r: AdminNetworkPolicyIngressRule | AdminNetworkPolicyEgressRule) => {
      field: string;
      peers: AdminNetworkPolicyPeer[];
    },
    networksAllowed: boolean,
  ) =>
    (list ?? []).forEach((rule, i) => {
      const where = `${at}[${i}]`;
      if (baseline && rule.action === 'Pass') {
        problems.push(`${where}.action: must be Allow or Deny in a BaselineAdminNetworkPolicy`);
      }
      const { field, peers } = peersOf(rule);
      peers.forEach((peer, j) =>
        problems.push(...peerProblems(peer, `${where}.${field}[${j}]`, networksAllowed)),
      );
      (rule.ports ?? []).forEach((port, j) =>
        problems.push(...portProblems(port, `${where}.ports[${j}]`)),
      );
    });
  rules(
    policy.spec.ingress,
    'spec.ingress',
    (r) => ({ field: 'from', peers: (r as AdminNetworkPolicyIngressRule).from }),
    false,
  );
  rules(
    policy.spec.egress,
    'spec.egress',
    (r) => ({ field: 'to', peers: (r as AdminNetworkPolicyEgressRule).to }),
    true,
  );
  return problems;
}

function peerProblems(
  peer: AdminNetworkPolicyPeer,
  at: string,
  networksAllowed: boolean,
): string[] {
  const given = Object.entries(peer)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  const fields = networksAllowed ? 'namespaces, pods or networks' : 'namespaces or pods';
  if (given.length !== 1 || !['namespaces', 'pods', 'networks'].includes(given[0]!)) {
    return [`${at}: must give exactly one of ${fields}, got ${given.join(', ') || 'none'}`];
  }
  if (!peer.networks) return [];
  if (!networksAllowed) return [`${at}.networks: only egress peers may name networks`];
  if (peer.networks.length === 0) return [`${at}.networks: must list at least one network`];
  return peer.networks.flatMap((text, i) =>
    tryParseCidr(text)
      ? []
      : [`${at}.networks[${i}]: must be a network like 10.0.0.0/8, got ${JSON.stringify(text)}`],
  );
}

function portProblems(port: AdminNetworkPolicyPort, at: string): string[] {
  const given = Object.entries(port)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  if (given.length !== 1) {
    return [
      `${at}: must give exactly one of portNumber, portRange or namedPort, got ${given.join(', ') || 'none'}`,
    ];
  }
  const range = port.portRange;
  if (range && range.start >= range.end) {
    return [`${at}.portRange.end: must be above start ${range.start}, got ${range.end}`];
  }
  return [];
}
