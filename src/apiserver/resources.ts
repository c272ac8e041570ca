// The resources the API server serves: one entry per kind, naming everything the wire needs
// (discovery names, verbs, subresources, the Table columns `kubectl get` prints, the fields a
// `fieldSelector` may name). A kind added to src/api is served by adding its entry here.
import { isPodReady } from '../api/endpoints.js';
import { kindInfo } from '../api/kinds.js';
import { formatLabelSelector } from '../api/label-selector.js';
import {
  age,
  bindingRole,
  bindingSubjects,
  endpointsPairs,
  sliceAddresses,
  slicePorts,
} from '../api/table.js';
import type { Kind, KubeObject } from '../api/types.js';
import type { MergeKeys } from './patch.js';

export interface ColumnDefinition {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  format: string;
  description: string;
  /** 0: always shown; 1: only with `-o wide`. */
  priority: number;
}

export interface Column<T> extends ColumnDefinition {
  cell(obj: T, now: Date): string | number;
}

export interface Resource<K extends Kind = Kind> {
  kind: K;
  group: string;
  version: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  subresources: string[];
  columns: Column<Extract<KubeObject, { kind: K }>>[];
  /** Set for kinds that take strategic merge patches (Kubernetes' own kinds). */
  mergeKeys?: MergeKeys;
  /** Fields beyond metadata.name and metadata.namespace, read with their default when unset. */
  fields: Record<string, (obj: Extract<KubeObject, { kind: K }>) => string>;
}

export const VERBS = [
  'create',
  'delete',
  'deletecollection',
  'get',
  'list',
  'patch',
  'update',
  'watch',
] as const;

/**
 * What a subresource answers, for discovery: `status` is read and written beside its object;
 * `token` (of a ServiceAccount) only mints TokenRequests, a kind of another group.
 */
export const SUBRESOURCES: Record<
  string,
  { verbs: readonly string[]; kind?: string; group?: string; version?: string }
> = {
  status: { verbs: ['get', 'patch', 'update'] },
  token: { verbs: ['create'], kind: 'TokenRequest', group: 'authentication.k8s.io', version: 'v1' },
};

function col<T>(
  name: string,
  cell: (obj: T, now: Date) => string | number,
  opts: {
    priority?: number;
    type?: ColumnDefinition['type'];
    format?: string;
    description?: string;
  } = {},
): Column<T> {
  return {
    name,
    type: opts.type ?? 'string',
    format: opts.format ?? '',
    description: opts.description ?? '',
    priority: opts.priority ?? 0,
    cell,
  };
}

const NAME = col<KubeObject>('Name', (o) => o.metadata.name, {
  format: 'name',
  description: 'Name must be unique within a namespace.',
});
const AGE = col<KubeObject>('Age', (o, now) => age(o.metadata.creationTimestamp, now), {
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
});
const WIDE = { priority: 1 };
/** RBAC kinds print their creation time itself rather than an age, as Kubernetes does. */
const CREATED_AT = col<KubeObject>('Created At', (o) => o.metadata.creationTimestamp ?? '', {
  type: 'date',
  description:
    'CreationTimestamp is a timestamp representing the server time when this object was created.',
});

function none(v: string | undefined): string {
  return v === undefined || v === '' ? '<none>' : v;
}

function pairs(map: Record<string, string> | undefined): string {
  return none(
    Object.entries(map ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
}

function base<K extends Kind>(
  kind: K,
  rest: Pick<Resource<NoInfer<K>>, 'columns'> & Partial<Resource<NoInfer<K>>>,
): Resource<K> {
  const info = kindInfo(kind);
  const [group, version] = info.apiVersion.includes('/')
    ? (info.apiVersion.split('/') as [string, string])
    : ['', info.apiVersion];
  const singular = kind.toLowerCase();
  return {
    kind,
    group,
    version,
    plural: info.plural,
    singular,
    namespaced: info.namespaced,
    shortNames: info.aliases.filter((a) => a !== info.plural && a !== singular),
    categories: [],
    subresources: [],
    fields: {},
    ...rest,
  };
}

/** The subjects of a binding, by kind, as the wide columns of kubectl list them. */
function subjectColumns<
  T extends Extract<KubeObject, { kind: 'RoleBinding' | 'ClusterRoleBinding' }>,
>() {
  return [
    col<T>('Users', (o) => bindingSubjects(o, 'User'), WIDE),
    col<T>('Groups', (o) => bindingSubjects(o, 'Group'), WIDE),
    col<T>('ServiceAccounts', (o) => bindingSubjects(o, 'ServiceAccount'), WIDE),
  ];
}

/** The list merge keys of ObjectMeta, the same in every Kubernetes kind. */
const META_KEYS = { 'metadata.ownerReferences': 'uid', 'metadata.finalizers': '' };

const CONTAINER_KEYS = (path: string) => ({
  [path]: 'name',
  [`${path}.ports`]: 'containerPort',
  [`${path}.env`]: 'name',
  [`${path}.volumeMounts`]: 'mountPath',
});

export const RESOURCES: readonly Resource[] = [
  base('Namespace', {
    mergeKeys: { ...META_KEYS, 'spec.finalizers': '' },
    columns: [NAME, col('Status', (o) => o.status?.phase ?? 'Active'), AGE],
    fields: { 'status.phase': (o) => o.status?.phase ?? 'Active' },
  }),
  base('Node', {
    subresources: ['status'],
    mergeKeys: {
      ...META_KEYS,
      'spec.podCIDRs': '',
      'status.addresses': 'type',
      'status.conditions': 'type',
    },
    columns: [
      NAME,
      col('Status', (o) => {
        const ready = o.status?.conditions?.find((c) => c.type === 'Ready');
        if (!ready || ready.status === 'Unknown') return 'Unknown';
        return ready.status === 'True' ? 'Ready' : 'NotReady';
      }),
      col('Roles', () => '<none>'),
      AGE,
      col('Version', () => 'podnet'),
      col(
        'Internal-IP',
        (o) => none(o.status?.addresses?.find((a) => a.type === 'InternalIP')?.address),
        WIDE,
      ),
      col(
        'External-IP',
        (o) => none(o.status?.addresses?.find((a) => a.type === 'ExternalIP')?.address),
        WIDE,
      ),
      col('OS-Image', () => '<unknown>', WIDE),
      col('Kernel-Version', () => '<unknown>', WIDE),
      col('Container-Runtime', () => '<unknown>', WIDE),
    ],
    fields: { 'spec.unschedulable': () => 'false' },
  }),
  base('Pod', {
    categories: ['all'],
    subresources: ['status'],
    mergeKeys: {
      ...META_KEYS,
      ...CONTAINER_KEYS('spec.containers'),
      ...CONTAINER_KEYS('spec.initContainers'),
      ...CONTAINER_KEYS('spec.ephemeralContainers'),
      'spec.imagePullSecrets': 'name',
      'spec.volumes': 'name',
      'spec.hostAliases': 'ip',
      'status.conditions': 'type',
      'status.podIPs': 'ip',
    },
    columns: [
      NAME,
      col('Ready', (o) => {
        const n = o.spec.containers.length;
        return `${isPodReady(o) ? n : 0}/${n}`;
      }),
      col('Status', (o) =>
        o.metadata.deletionTimestamp ? 'Terminating' : (o.status?.phase ?? 'Pending'),
      ),
      col('Restarts', () => '0'),
      AGE,
      col('IP', (o) => none(o.status?.podIP), WIDE),
      col('Node', (o) => none(o.spec.nodeName), WIDE),
      col('Nominated Node', () => '<none>', WIDE),
      col('Readiness Gates', () => '<none>', WIDE),
    ],
    fields: {
      'spec.nodeName': (o) => o.spec.nodeName ?? '',
      'spec.restartPolicy': () => 'Always',
      'spec.schedulerName': () => 'default-scheduler',
      'spec.serviceAccountName': () => 'default',
      'spec.hostNetwork': () => 'false',
      'status.phase': (o) => o.status?.phase ?? 'Pending',
      'status.podIP': (o) => o.status?.podIP ?? '',
      'status.nominatedNodeName': () => '',
    },
  }),
  base('Service', {
    categories: ['all'],
    mergeKeys: { ...META_KEYS, 'spec.ports': 'port' },
    columns: [
      NAME,
      col('Type', (o) => o.spec.type ?? 'ClusterIP'),
      col('Cluster-IP', (o) => none(o.spec.clusterIP)),
      col('External-IP', (o) => none(o.spec.externalName)),
      col('Port(s)', (o) => {
        const ports = o.spec.ports ?? [];
        if (ports.length === 0) return '<none>';
        return ports
          .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
          .join(',');
      }),
      AGE,
      col('Selector', (o) => pairs(o.spec.selector), WIDE),
    ],
  }),
  base('Endpoints', {
    // Subsets are replaced whole by a strategic merge patch, as in Kubernetes.
    mergeKeys: META_KEYS,
    columns: [NAME, col('Endpoints', (o) => endpointsPairs(o)), AGE],
  }),
  base('EndpointSlice', {
    mergeKeys: META_KEYS,
    columns: [
      NAME,
      col('AddressType', (o) => o.addressType),
      col('Ports', (o) => slicePorts(o)),
      col('Endpoints', (o) => sliceAddresses(o)),
      AGE,
    ],
  }),
  base('ServiceAccount', {
    subresources: ['token'],
    mergeKeys: { ...META_KEYS, secrets: 'name' },
    columns: [NAME, col('Secrets', (o) => o.secrets?.length ?? 0, { type: 'integer' }), AGE],
  }),
  base('Role', { mergeKeys: META_KEYS, columns: [NAME, CREATED_AT] }),
  base('ClusterRole', { mergeKeys: META_KEYS, columns: [NAME, CREATED_AT] }),
  base('RoleBinding', {
    mergeKeys: META_KEYS,
    columns: [NAME, col('Role', (o) => bindingRole(o)), AGE, ...subjectColumns()],
  }),
  base('ClusterRoleBinding', {
    mergeKeys: META_KEYS,
    columns: [NAME, col('Role', (o) => bindingRole(o)), AGE, ...subjectColumns()],
  }),
  base('Lease', {
    mergeKeys: META_KEYS,
    columns: [NAME, col('Holder', (o) => o.spec.holderIdentity ?? ''), AGE],
  }),
  base('NetworkPolicy', {
    mergeKeys: META_KEYS,
    columns: [
      NAME,
      col('Pod-Selector', (o) => formatLabelSelector(o.spec.podSelector), {
        description: 'Selects the pods to which this NetworkPolicy object applies.',
      }),
      AGE,
    ],
  }),
  base('AdminNetworkPolicy', {
    mergeKeys: META_KEYS,
    columns: [NAME, col('Priority', (o) => o.spec.priority, { type: 'integer' }), AGE],
  }),
  base('BaselineAdminNetworkPolicy', { mergeKeys: META_KEYS, columns: [NAME, AGE] }),
  base('ClusterNetwork', {
    columns: [
      NAME,
      col('Cluster-CIDR', (o) => o.spec.clusterCIDR),
      col('Service-CIDR', (o) => o.spec.serviceCIDR),
      col('Backend', (o) => o.spec.backend),
      col('Proxy', (o) => o.spec.proxyMode),
      AGE,
      col('DNS-IP', (o) => o.spec.dnsIP, WIDE),
      col('Domain', (o) => o.spec.domain, WIDE),
      col('Routing', (o) => o.spec.routing, WIDE),
      col('MTU', (o) => o.spec.mtu, { ...WIDE, type: 'integer' }),
    ],
  }),
  base('BGPPeer', {
    columns: [
      NAME,
      col('Peer-IP', (o) => o.spec.peerIP),
      col('AS', (o) => o.spec.asNumber, { type: 'integer' }),
      AGE,
      col('Node-Selector', (o) => pairs(o.spec.nodeSelector), WIDE),
    ],
  }),
] as Resource[];

/** `group/version` as apiVersion spells it (`v1` for the core group). */
export function groupVersion(r: Pick<Resource, 'group' | 'version'>): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function resourceFor(group: string, version: string, plural: string): Resource | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function resourceOfKind(kind: string): Resource | undefined {
  return RESOURCES.find((r) => r.kind === kind);
}

/** Every field a `fieldSelector` may name for this resource. */
export function selectableFields(r: Resource): string[] {
  return ['metadata.name', 'metadata.namespace', ...Object.keys(r.fields)];
}

export function fieldValue(r: Resource, obj: KubeObject, field: string): string {
  if (field === 'metadata.name') return obj.metadata.name;
  if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
  return (r.fields[field] as (o: KubeObject) => string)(obj);
}
