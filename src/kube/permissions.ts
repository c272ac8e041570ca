// What the Kubernetes source asks of the API server, as RBAC rules: the least a ClusterRole
// for podnet's agents, DNS and pod runners must grant. One list, so the deployed roles and the
// lab's tokens grant exactly what the code uses.
import type { PolicyRule } from '../api/types.js';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'delete'];

/** The node agent: routes and service rules from the cluster, its Node's status, elections. */
export const AGENT_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['nodes'], verbs: [...READ, ...WRITE] },
  { apiGroups: [''], resources: ['nodes/status'], verbs: ['update'] },
  { apiGroups: [''], resources: ['namespaces'], verbs: [...READ, 'update', 'delete'] },
  { apiGroups: [''], resources: ['namespaces/status'], verbs: ['update'] },
  { apiGroups: [''], resources: ['pods', 'services', 'endpoints'], verbs: [...READ, ...WRITE] },
  { apiGroups: [''], resources: ['pods/status', 'services/status'], verbs: ['update'] },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: [...READ, ...WRITE] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: READ },
  {
    apiGroups: ['policy.networking.k8s.io'],
    resources: ['adminnetworkpolicies', 'baselineadminnetworkpolicies'],
    verbs: READ,
  },
  { apiGroups: ['podnet.io'], resources: ['clusternetworks', 'bgppeers'], verbs: READ },
  // Subnet leases, elections and reservations are Leases; so is each node's heartbeat.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: [...READ, ...WRITE] },
];

/** The cluster DNS: names from Services and EndpointSlices; who may recurse from Nodes. */
export const DNS_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['namespaces', 'services', 'nodes'], verbs: READ },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
  { apiGroups: ['podnet.io'], resources: ['clusternetworks'], verbs: READ },
];

/** The lab's pod runner: its pods, their status, and finishing their deletion. */
export const POD_RUNNER_RULES: readonly PolicyRule[] = [
  { apiGroups: [''], resources: ['pods'], verbs: [...READ, 'update', 'delete'] },
  { apiGroups: [''], resources: ['pods/status'], verbs: ['update'] },
  { apiGroups: [''], resources: ['services'], verbs: READ },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
];
