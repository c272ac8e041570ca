// kubectl-like tables for `podnet get`: the columns kubectl shows for each kind, podnet's own
// for ClusterNetwork, `-o wide` adding the network columns.
import { nodeInternalIP, nodePodCIDR } from './node-network.js';
import { isPodReady } from './endpoints.js';
import { formatLabelSelector } from './label-selector.js';
import {
  LABEL_ZONE,
  type ClusterRoleBinding,
  type EndpointSlice,
  type Endpoints,
  type KubeObject,
  type Kind,
  type Node,
  type Pod,
  type RoleBinding,
  type Service,
} from './types.js';

export interface TableOptions {
  wide?: boolean;
  /** Adds a NAMESPACE column first (`-A`). */
  allNamespaces?: boolean;
  /** For AGE; a parameter so that tables are testable. */
  now?: Date;
}

/** `45s`, `3m12s`, `2h5m`, `4d` as kubectl prints ages. */
export function age(created: string | undefined, now: Date): string {
  if (!created) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${m % 60 && h < 8 ? `${m % 60}m` : ''}`;
  return `${Math.floor(h / 24)}d`;
}

function or(value: string | undefined, none = '<none>'): string {
  return value === undefined || value === '' ? none : value;
}

/** `k=v,k=v` as kubectl prints a selector; `<none>` when there is none. */
function labelSelector(labels: Record<string, string> | undefined): string {
  return or(
    Object.entries(labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
  );
}

function servicePorts(svc: Service): string {
  const ports = svc.spec.ports ?? [];
  if (ports.length === 0) return '<none>';
  return ports
    .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
    .join(',');
}

/** kubectl's STATUS, with the network plugin's NetworkUnavailable added when it is True. */
function nodeStatus(node: Node): string {
  const conditions = node.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const readiness = !ready ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady';
  const network = conditions.find((c) => c.type === 'NetworkUnavailable');
  return network?.status === 'True' ? `${readiness},NetworkUnavailable` : readiness;
}

function podReady(pod: Pod): string {
  const n = pod.spec.containers.length;
  const statuses = pod.status?.containerStatuses;
  // A pod being deleted takes no new connections: none of its containers counts as ready.
  if (statuses && !pod.metadata.deletionTimestamp)
    return `${statuses.filter((c) => c.ready).length}/${n}`;
  return `${isPodReady(pod) ? n : 0}/${n}`;
}

/**
 * kubectl's STATUS: the pod's reason or phase, overridden by the reason of a container that is
 * waiting or has terminated (`CrashLoopBackOff`, `Error`, `ExitCode:3`), `Terminating` once its
 * deletion has begun.
 */
export function podStatusWord(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  let word: string = pod.status?.reason ?? pod.status?.phase ?? 'Pending';
  for (const c of pod.status?.containerStatuses ?? []) {
    const { waiting, terminated } = c.state;
    if (waiting?.reason) word = waiting.reason;
    else if (terminated?.reason) word = terminated.reason;
    else if (terminated) word = `ExitCode:${terminated.exitCode}`;
  }
  return word;
}

/** kubectl's RESTARTS: the total, and how long ago the last container ended (`3 (42s ago)`). */
export function podRestarts(pod: Pod, now: Date): string {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = statuses.reduce((n, c) => n + c.restartCount, 0);
  const ends = statuses
    .map((c) => c.lastState?.terminated?.finishedAt)
    .filter((t): t is string => t !== undefined)
    .sort();
  const last = ends[ends.length - 1];
  return total > 0 && last ? `${total} (${age(last, now)} ago)` : String(total);
}

/** The first three of a list, then how many more, as kubectl abbreviates endpoints. */
function firstThree(items: string[], none: string): string {
  if (items.length === 0) return none;
  const more = items.length > 3 ? ` + ${items.length - 3} more...` : '';
  return items.slice(0, 3).join(',') + more;
}

/** `kubectl get endpoints`: every ready ip:port. */
export function endpointsPairs(o: Endpoints): string {
  const pairs = (o.subsets ?? []).flatMap((s) =>
    (s.addresses ?? []).flatMap((a) =>
      (s.ports ?? []).length === 0 ? [a.ip] : s.ports!.map((p) => `${a.ip}:${p.port}`),
    ),
  );
  return firstThree(pairs, '<none>');
}

export function slicePorts(o: EndpointSlice): string {
  const ports = (o.ports ?? []).map((p) => (p.port === undefined ? '<unset>' : String(p.port)));
  return ports.length === 0 ? '<unset>' : ports.join(',');
}

export function sliceAddresses(o: EndpointSlice): string {
  return firstThree(
    o.endpoints.flatMap((e) => e.addresses),
    '<unset>',
  );
}

export function bindingRole(o: RoleBinding | ClusterRoleBinding): string {
  return `${o.roleRef.kind}/${o.roleRef.name}`;
}

/** The subjects of one kind, comma-separated (`ns/name` for service accounts, as kubectl prints them). */
export function bindingSubjects(o: RoleBinding | ClusterRoleBinding, kind: string): string {
  const names = (o.subjects ?? [])
    .filter((s) => s.kind === kind)
    .map((s) =>
      kind === 'ServiceAccount' ? (s.namespace ? `${s.namespace}/${s.name}` : s.name) : s.name,
    );
  return names.join(', ');
}

const BINDING_WIDE = ['USERS', 'GROUPS', 'SERVICEACCOUNTS'];
const SUBJECT_KINDS = ['User', 'Group', 'ServiceAccount'];

interface Columns<T> {
  head: string[];
  wide: string[];
  row(obj: T, now: Date): string[];
  wideRow(obj: T): string[];
}

const COLUMNS: { [K in Kind]: Columns<Extract<KubeObject, { kind: K }>> } = {
  Namespace: {
    head: ['NAME', 'STATUS', 'AGE'],
    wide: [],
    row: (o, now) => [
      o.metadata.name,
      o.status?.phase ?? 'Active',
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: () => [],
  },
  Node: {
    head: ['NAME', 'STATUS', 'POD-CIDR', 'AGE'],
    wide: ['INTERNAL-IP', 'ZONE'],
    row: (o, now) => [
      o.metadata.name,
      nodeStatus(o),
      or(nodePodCIDR(o)),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: (o) => [or(nodeInternalIP(o)), or(o.metadata.labels?.[LABEL_ZONE])],
  },
  Pod: {
    head: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    row: (o, now) => [
      o.metadata.name,
      podReady(o),
      podStatusWord(o),
      podRestarts(o, now),
      age(o.metadata.creationTimestamp, now),
    ],
    wide: ['IP', 'NODE', 'MESSAGE'],
    wideRow: (o) => [or(o.status?.podIP), or(o.spec.nodeName), podMessage(o)],
  },
  Service: {
    head: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    wide: ['SELECTOR'],
    row: (o, now) => [
      o.metadata.name,
      o.spec.type ?? 'ClusterIP',
      or(o.spec.clusterIP),
      or(o.spec.externalName),
      servicePorts(o),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: (o) => [labelSelector(o.spec.selector)],
  },
  Endpoints: {
    head: ['NAME', 'ENDPOINTS', 'AGE'],
    wide: [],
    row: (o, now) => [o.metadata.name, endpointsPairs(o), age(o.metadata.creationTimestamp, now)],
    wideRow: () => [],
  },
  EndpointSlice: {
    head: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
    wide: [],
    row: (o, now) => [
      o.metadata.name,
      o.addressType,
      slicePorts(o),
      sliceAddresses(o),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: () => [],
  },
  ServiceAccount: {
    head: ['NAME', 'SECRETS', 'AGE'],
    wide: [],
    row: (o, now) => [
      o.metadata.name,
      String(o.secrets?.length ?? 0),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: () => [],
  },
  Role: {
    head: ['NAME', 'CREATED AT'],
    wide: [],
    row: (o) => [o.metadata.name, or(o.metadata.creationTimestamp, '<unknown>')],
    wideRow: () => [],
  },
  ClusterRole: {
    head: ['NAME', 'CREATED AT'],
    wide: [],
    row: (o) => [o.metadata.name, or(o.metadata.creationTimestamp, '<unknown>')],
    wideRow: () => [],
  },
  RoleBinding: {
    head: ['NAME', 'ROLE', 'AGE'],
    wide: BINDING_WIDE,
    row: (o, now) => [o.metadata.name, bindingRole(o), age(o.metadata.creationTimestamp, now)],
    wideRow: (o) => SUBJECT_KINDS.map((kind) => bindingSubjects(o, kind)),
  },
  ClusterRoleBinding: {
    head: ['NAME', 'ROLE', 'AGE'],
    wide: BINDING_WIDE,
    row: (o, now) => [o.metadata.name, bindingRole(o), age(o.metadata.creationTimestamp, now)],
    wideRow: (o) => SUBJECT_KINDS.map((kind) => bindingSubjects(o, kind)),
  },
  ClusterNetwork: {
    head: ['NAME', 'CLUSTER-CIDR', 'SERVICE-CIDR', 'BACKEND', 'PROXY', 'AGE'],
    wide: ['DNS-IP', 'DOMAIN', 'ROUTING', 'MTU'],
    row: (o, now) => [
      o.metadata.name,
      o.spec.clusterCIDR,
      o.spec.serviceCIDR,
      o.spec.backend,
      o.spec.proxyMode,
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: (o) => [o.spec.dnsIP, o.spec.domain, o.spec.routing, String(o.spec.mtu)],
  },
  BGPPeer: {
    head: ['NAME', 'PEER-IP', 'AS', 'AGE'],
    wide: ['NODE-SELECTOR'],
    row: (o, now) => [
      o.metadata.name,
      o.spec.peerIP,
      String(o.spec.asNumber),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: (o) => [labelSelector(o.spec.nodeSelector)],
  },
  Lease: {
    head: ['NAME', 'HOLDER', 'AGE'],
    wide: ['RENEWED', 'DURATION'],
    row: (o, now) => [
      o.metadata.name,
      or(o.spec.holderIdentity),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: (o) => [
      or(o.spec.renewTime),
      o.spec.leaseDurationSeconds === undefined ? '<none>' : `${o.spec.leaseDurationSeconds}s`,
    ],
  },
  NetworkPolicy: {
    head: ['NAME', 'POD-SELECTOR', 'AGE'],
    wide: [],
    row: (o, now) => [
      o.metadata.name,
      formatLabelSelector(o.spec.podSelector),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: () => [],
  },
  AdminNetworkPolicy: {
    head: ['NAME', 'PRIORITY', 'AGE'],
    wide: ['INGRESS', 'EGRESS'],
    row: (o, now) => [
      o.metadata.name,
      String(o.spec.priority),
      age(o.metadata.creationTimestamp, now),
    ],
    wideRow: (o) => [String(o.spec.ingress?.length ?? 0), String(o.spec.egress?.length ?? 0)],
  },
  BaselineAdminNetworkPolicy: {
    head: ['NAME', 'AGE'],
    wide: ['INGRESS', 'EGRESS'],
    row: (o, now) => [o.metadata.name, age(o.metadata.creationTimestamp, now)],
    wideRow: (o) => [String(o.spec.ingress?.length ?? 0), String(o.spec.egress?.length ?? 0)],
  },
};

/**
 * Why a pod is not simply running, for `-o wide`: the pod's own message (a scheduling
 * failure, a container with nothing to run) or the first container's waiting or exit message.
 */
function podMessage(pod: Pod): string {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  const container = pod.status?.containerStatuses
    ?.map((c) => c.state.waiting?.message ?? c.lastState?.terminated?.message)
    .find((m) => m !== undefined);
  return or(pod.status?.message ?? (scheduled?.status === 'False' ? scheduled.message : container));
}

/** Left-aligned columns separated by three spaces, as kubectl prints them. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join(''),
    )
    .map((line) => line.trimEnd())
    .join('\n');
}

export function objectTable(kind: Kind, objects: KubeObject[], opts: TableOptions = {}): string {
  const cols = COLUMNS[kind] as Columns<KubeObject>;
  const now = opts.now ?? new Date();
  const head = [
    ...(opts.allNamespaces ? ['NAMESPACE'] : []),
    ...cols.head,
    ...(opts.wide ? cols.wide : []),
  ];
  const rows = objects.map((o) => [
    ...(opts.allNamespaces ? [o.metadata.namespace ?? ''] : []),
    ...cols.row(o, now),
    ...(opts.wide ? cols.wideRow(o) : []),
  ]);
  return formatTable([head, ...rows]);
}
