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
    | 'podnet.io/v1';
  /** Lower-case plural: the resource name and (unless storeSegment says otherwise) the store key segment. */
  plural: string;
  /** The store key segment when the plural's is taken (`/podnet/leases/` holds subnet leases). */
  storeSegment?: string;
  namespaced: boolean;
  /** Every name accepted on the command line (plural, singular, short forms). */
  aliases: string[];
}

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'Namespace',
    apiVersion: 'v1',
    plural: 'namespaces',
    namespaced: false,
    aliases: ['namespaces', 'namespace', 'ns'],
  },
  {
    kind: 'Node',
    apiVersion: 'v1',
    plural: 'nodes',
    namespaced: false,
    aliases: ['nodes', 'node', 'no'],
  },
  {
    kind: 'Pod',
    apiVersion: 'v1',
    plural: 'pods',
    namespaced: true,
    aliases: ['pods', 'pod', 'po'],
  },
  {
    kind: 'Service',
    apiVersion: 'v1',
    plural: 'services',
    namespaced: true,
    aliases: ['services', 'service', 'svc'],
  },
  {
    kind: 'Endpoints',
    apiVersion: 'v1',
    plural: 'endpoints',
    namespaced: true,
    aliases: ['endpoints', 'ep'],
  },
  {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    plural: 'endpointslices',
    namespaced: true,
    aliases: ['endpointslices', 'endpointslice'],
  },
  {
    kind: 'ServiceAccount',
    apiVersion: 'v1',
    plural: 'serviceaccounts',
    namespaced: true,
    aliases: ['serviceaccounts', 'serviceaccount', 'sa'],
  },
  {
    kind: 'Role',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    plural: 'roles',
    namespaced: true,
    aliases: ['roles', 'role'],
  },
  {
    kind: 'ClusterRole',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    plural: 'clusterroles',
    namespaced: false,
    aliases: ['clusterroles', 'clusterrole'],
  },
  {
    kind: 'RoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    plural: 'rolebindings',
    namespaced: true,
    aliases: ['rolebindings', 'rolebinding'],
  },
  {
    kind: 'ClusterRoleBinding',
    apiVersion: 'rbac.authorization.k8s.io/v1',
    plural: 'clusterrolebindings',
    namespaced: false,
    aliases: ['clusterrolebindings', 'clusterrolebinding'],
  },
  {
    kind: 'ClusterNetwork',
    apiVersion: 'podnet.io/v1',
    plural: 'clusternetworks',
    namespaced: false,
    aliases: ['clusternetworks', 'clusternetwork', 'cn'],
  },
  {
    kind: 'BGPPeer',
    apiVersion: 'podnet.io/v1',
    plural: 'bgppeers',
    namespaced: false,
    aliases: ['bgppeers', 'bgppeer'],
  },
  {
    kind: 'Lease',
    apiVersion: 'coordination.k8s.io/v1',
    plural: 'leases',
    storeSegment: 'coordination.k8s.io/leases',
    namespaced: true,
    aliases: ['leases', 'lease'],
  },
  {
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
    plural: 'networkpolicies',
    namespaced: true,
    aliases: ['networkpolicies', 'networkpolicy', 'netpol'],
  },
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
