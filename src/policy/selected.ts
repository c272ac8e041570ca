// The pods some policy holds: selected by a NetworkPolicy (either direction) or held by an
// AdminNetworkPolicy's or BaselineAdminNetworkPolicy's subject. Their packets must meet the
// policy's rules in netfilter, so a data path that skips netfilter leaves them on the kernel's.
import type {
  AdminNetworkPolicy,
  BaselineAdminNetworkPolicy,
  Namespace,
  NetworkPolicy,
  Pod,
} from '../api/types.js';
import { formatIP } from '../net/index.js';
import { subjectHolds } from './admin.js';
import { isolatingPolicies, namespaceLabels } from './evaluate.js';
import { podAddresses } from './rules.js';

export interface PolicySelectionInput {
  pods: Iterable<Pod>;
  namespaces: readonly Namespace[];
  networkPolicies: readonly NetworkPolicy[];
  adminPolicies: readonly (AdminNetworkPolicy | BaselineAdminNetworkPolicy)[];
}

/** Whether any policy holds `pod`. */
function held(pod: Pod, input: PolicySelectionInput): boolean {
  if (
    isolatingPolicies(pod, 'Ingress', input.networkPolicies).length > 0 ||
    isolatingPolicies(pod, 'Egress', input.networkPolicies).length > 0
  ) {
    return true;
  }
  if (input.adminPolicies.length === 0) return false;
  const labels = namespaceLabels(pod.metadata.namespace ?? '', {
    pods: [],
    namespaces: input.namespaces,
    policies: [],
  });
  return input.adminPolicies.some((p) => subjectHolds(p.spec.subject, pod, labels));
}

/** The addresses of every pod some policy holds, as the kernel prints them. */
export function policySelectedAddresses(input: PolicySelectionInput): string[] {
  const out: string[] = [];
  for (const pod of input.pods) {
    if (held(pod, input)) out.push(...podAddresses(pod).map(formatIP));
  }
  return out;
}
