// The default roles and bindings a Kubernetes API server makes on first start, so that RBAC
// means what its users expect: `cluster-admin` for `system:masters`, discovery and the public
// health and version paths for every authenticated user, and the user-facing `view`, `edit`
// and `admin` ClusterRoles to bind in a namespace. Made only where missing: an operator's
// change to one of them is kept.
import type { ClusterRole, ClusterRoleBinding, PolicyRule, Subject } from '../api/types.js';
import { createObject } from '../store/objects.js';
import type { Store } from '../store/store.js';

const RBAC = 'rbac.authorization.k8s.io';

const DEFAULTS_META = {
  labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
  annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
};

function clusterRole(name: string, rules: PolicyRule[]): ClusterRole {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRole',
    metadata: { name, ...structuredClone(DEFAULTS_META) },
    rules,
  };
}

function group(name: string): Subject {
  return { kind: 'Group', apiGroup: RBAC, name };
}

function bound(role: string, subjects: Subject[]): ClusterRoleBinding {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: role, ...structuredClone(DEFAULTS_META) },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: role },
    subjects,
  };
}

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];

const PUBLIC_PATHS = ['/healthz', '/livez', '/readyz', '/version', '/version/'];

/** What a namespace's reader sees: the workload and service objects, not its access control. */
const VIEW_RULES: PolicyRule[] = [
  {
    apiGroups: [''],
    resources: [
      'endpoints',
      'namespaces',
      'namespaces/status',
      'pods',
      'pods/status',
      'serviceaccounts',
      'services',
      'services/status',
    ],
    verbs: READ,
  },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: READ },
];

/** A namespace's editor also writes those objects and mints tokens for its accounts. */
const EDIT_RULES: PolicyRule[] = [
  ...VIEW_RULES,
  {
    apiGroups: [''],
    resources: ['endpoints', 'pods', 'serviceaccounts', 'services'],
    verbs: WRITE,
  },
  { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: WRITE },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: WRITE },
];

/** A namespace's admin also grants access inside it. */
const ADMIN_RULES: PolicyRule[] = [
  ...EDIT_RULES,
  { apiGroups: [RBAC], resources: ['rolebindings', 'roles'], verbs: [...READ, ...WRITE] },
];

export function bootstrapPolicy(): (ClusterRole | ClusterRoleBinding)[] {
  return [
    clusterRole('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    bound('cluster-admin', [group('system:masters')]),
    clusterRole('system:discovery', [
      {
        nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/openapi', '/openapi/*'].concat(
          PUBLIC_PATHS,
        ),
        verbs: ['get'],
      },
    ]),
    bound('system:discovery', [group('system:authenticated')]),
    clusterRole('system:basic-user', [
      {
        apiGroups: ['authorization.k8s.io'],
        resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
        verbs: ['create'],
      },
      {
        apiGroups: ['authentication.k8s.io'],
        resources: ['selfsubjectreviews'],
        verbs: ['create'],
      },
    ]),
    bound('system:basic-user', [group('system:authenticated')]),
    clusterRole('system:public-info-viewer', [{ nonResourceURLs: PUBLIC_PATHS, verbs: ['get'] }]),
    bound('system:public-info-viewer', [
      group('system:authenticated'),
      group('system:unauthenticated'),
    ]),
    clusterRole('view', VIEW_RULES),
    clusterRole('edit', EDIT_RULES),
    clusterRole('admin', ADMIN_RULES),
  ];
}

/** Creates the default roles and bindings that are missing; returns the names it made. */
export async function ensureBootstrapPolicy(store: Store): Promise<string[]> {
  const made: string[] = [];
  for (const obj of bootstrapPolicy()) {
    // Create-if-absent is one compare-and-swap: two servers starting together make each once.
    if (await createObject(store, obj)) made.push(`${obj.kind}/${obj.metadata.name}`);
  }
  return made;
}
