// NetworkPolicy admission as the Kubernetes API server does it: the defaults it writes into a
// policy at create, and the checks beyond its schema (what a peer or port may combine, ipBlock
// exceptions inside their block), each naming the field at fault.
import { containsCidr, formatCidr, tryParseCidr } from '../net/index.js';
import type {
  LabelSelector,
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  PolicyType,
} from './types.js';

/**
 * No policyTypes means Ingress, plus Egress when there are egress rules: a policy that only
 * seems to speak about egress still isolates its pods for ingress. An empty `egress: []` adds
 * nothing, exactly as upstream counts it.
 */
export function effectivePolicyTypes(spec: NetworkPolicy['spec']): PolicyType[] {
  if (spec.policyTypes && spec.policyTypes.length > 0) return spec.policyTypes;
  return (spec.egress?.length ?? 0) > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
}

export function defaultNetworkPolicy(policy: NetworkPolicy): void {
  const spec = policy.spec;
  spec.podSelector ??= {};
  spec.policyTypes = effectivePolicyTypes(spec);
  for (const rule of [...(spec.ingress ?? []), ...(spec.egress ?? [])]) {
    for (const port of rule.ports ?? []) port.protocol ??= 'TCP';
  }
}

export function networkPolicyProblems(policy: NetworkPolicy): string[] {
  const spec = policy.spec;
  const problems = selectorProblems(spec.podSelector, 'spec.podSelector');
  (spec.ingress ?? []).forEach((rule, i) => {
    const at = `spec.ingress[${i}]`;
    (rule.from ?? []).forEach((peer, j) =>
      problems.push(...peerProblems(peer, `${at}.from[${j}]`)),
    );
    (rule.ports ?? []).forEach((port, j) =>
      problems.push(...portProblems(port, `${at}.ports[${j}]`)),
    );
  });
  (spec.egress ?? []).forEach((rule, i) => {
    const at = `spec.egress[${i}]`;
    (rule.to ?? []).forEach((peer, j) => problems.push(...peerProblems(peer, `${at}.to[${j}]`)));
    (rule.ports ?? []).forEach((port, j) =>
      problems.push(...portProblems(port, `${at}.ports[${j}]`)),
    );
  });
  return problems;
}

function selectorProblems(selector: LabelSelector | undefined, at: string): string[] {
  const problems: string[] = [];
  (selector?.matchExpressions ?? []).forEach((req, i) => {
    const values = req.values ?? [];
    const needsValues = req.operator === 'In' || req.operator === 'NotIn';
    if (needsValues && values.length === 0) {
      problems.push(`${at}.matchExpressions[${i}].values: must be non-empty for ${req.operator}`);
    }
    if (!needsValues && values.length > 0) {
      problems.push(`${at}.matchExpressions[${i}].values: must be empty for ${req.operator}`);
    }
  });
  return problems;
}

function peerProblems(peer: NetworkPolicyPeer, at: string): string[] {
  const given = [peer.podSelector, peer.namespaceSelector, peer.ipBlock].filter(
    (p) => p !== undefined,
  ).length;
  if (given === 0) {
    return [`${at}: must name a podSelector, a namespaceSelector or an ipBlock`];
  }
  if (peer.ipBlock && given > 1) {
    return [`${at}: may not combine ipBlock with a podSelector or namespaceSelector`];
  }
  return [
    ...selectorProblems(peer.podSelector, `${at}.podSelector`),
    ...selectorProblems(peer.namespaceSelector, `${at}.namespaceSelector`),
    ...(peer.ipBlock ? ipBlockProblems(peer.ipBlock, `${at}.ipBlock`) : []),
  ];
}

function ipBlockProblems(block: NonNullable<NetworkPolicyPeer['ipBlock']>, at: string): string[] {
  // Host bits are tolerated, as the API server's legacy CIDR fields tolerate them.
  const cidr = tryParseCidr(block.cidr, { loose: true });
  if (!cidr) {
    return [`${at}.cidr: must be a network like 10.0.0.0/16, got ${JSON.stringify(block.cidr)}`];
  }
  const problems: string[] = [];
  (block.except ?? []).forEach((text, i) => {
    const except = tryParseCidr(text, { loose: true });
    if (!except) {
      problems.push(
        `${at}.except[${i}]: must be a network like 10.0.1.0/24, got ${JSON.stringify(text)}`,
      );
    } else if (!containsCidr(cidr, except) || except.prefix <= cidr.prefix) {
      problems.push(
        `${at}.except[${i}]: must be strictly inside cidr ${formatCidr(cidr)}, got ${JSON.stringify(text)}`,
      );
    }
  });
  return problems;
}

function portProblems(port: NetworkPolicyPort, at: string): string[] {
  if (port.endPort === undefined) return [];
  if (port.port === undefined) return [`${at}.endPort: may not be set without port`];
  if (typeof port.port === 'string') {
    return [`${at}.endPort: may not be set when port is a name (${JSON.stringify(port.port)})`];
  }
  if (port.endPort < port.port) {
    return [`${at}.endPort: must be at least port ${port.port}, got ${port.endPort}`];
  }
  return [];
}
