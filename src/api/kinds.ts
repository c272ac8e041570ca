// The kinds podnet stores, with the names kubectl users type for them.
import type { Kind } from './types.js';

export interface KindInfo {
  kind: Kind;
  apiVersion:
    | 'v1'
    | 'discovery.k8s.io/v1'
    | 'rbac.authorization.k8s.io/v1'
    | 'coordination.k8s.io/v1'
    | 'networking.k8s.io/v1'
    | 'policy.networking.k8s.io/v1alpha1'
    | 'podnet.io/v1';
  /** Lower-case plural: the resource name and (unless storeSegment says otherwise) the store key segment. */
  plural: string;
  /** The store key segment when the plural's is taken (`/podnet/leases/` holds subnet leases). */
  storeSegment?: string;
  namespaced: boolean;
  /** Every name accepted on the command line (plural, singular, short forms). */
  aliases: string[];
}

/**
 * One kind's entry: its plural is the lower-case kind plus `s` unless given, and the command line
 * accepts the plural, the singular and the `short` forms.
 */
function entry(
  kind: Kind,
  apiVersion: KindInfo['apiVersion'],
  scope: 'namespaced' | 'cluster',
  short: string[] = [],
  plural = `${kind.toLowerCase()}s`,
): KindInfo {
  const aliases = [...new Set([plural, kind.toLowerCase(), ...short])];
  return { kind, apiVersion, plural, namespaced: scope === 'namespaced', aliases };
}

const RBAC = 'rbac.authorization.k8s.io/v1';
const ANP = 'policy.networking.k8s.io/v1alpha1';

export const KINDS: readonly KindInfo[] = [
  entry('Namespace', 'v1', 'cluster', ['ns']),
  entry('Node', 'v1', 'cluster', ['no']),
  entry('Pod', 'v1', 'namespaced', ['po']),
  entry('Service', 'v1', 'namespaced', ['svc']),
  entry('Endpoints', 'v1', 'namespaced', ['ep'], 'endpoints'),
  entry('EndpointSlice', 'discovery.k8s.io/v1', 'namespaced'),
  entry('ServiceAccount', 'v1', 'namespaced', ['sa']),
  entry('Role', RBAC, 'namespaced'),
  entry('ClusterRole', RBAC, 'cluster'),
  entry('RoleBinding', RBAC, 'namespaced'),
  entry('ClusterRoleBinding', RBAC, 'cluster'),
  entry('ClusterNetwork', 'podnet.io/v1', 'cluster', ['cn']),
  entry('BGPPeer', 'podnet.io/v1', 'cluster'),
  // `/podnet/leases/` already holds subnet leases.
  {
    ...entry('Lease', 'coordination.k8s.io/v1', 'namespaced'),
    storeSegment: 'coordination.k8s.io/leases',
  },
  {
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
    plural: 'networkpolicies',
    namespaced: true,
    aliases: ['networkpolicies', 'networkpolicy', 'netpol'],
  },
  entry('AdminNetworkPolicy', ANP, 'cluster', ['anp'], 'adminnetworkpolicies'),
  entry('BaselineAdminNetworkPolicy', ANP, 'cluster', ['banp'], 'baselineadminnetworkpolicies'),
];

export const DEFAULT_NAMESPACE = 'default';

export function kindInfo(kind: Kind): KindInfo {
  return KINDS.find((k) => k.kind === kind)!;
}

/** The kind a manifest's `kind:` names (exact Kubernetes spelling), or undefined. */
export function kindByName(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}

/** The kind a command-line word names (`po`, `svc`, `Pods`, ...), or undefined. */
export function kindByAlias(word: string): KindInfo | undefined {
  const w = word.toLowerCase();
  return KINDS.find((k) => k.aliases.includes(w) || k.kind.toLowerCase() === w);
}

export function knownKindNames(): string {
  return KINDS.map((k) => k.kind).join(', ');
}
