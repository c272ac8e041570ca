// Turns one raw manifest document into a checked, defaulted object, or into errors for people:
// `Service my-ns/web: spec.ports[1].port: must be 1-65535, got 70000`. Unknown fields are
// warnings and stay in the object (kubectl manifests carry `resources`, probes, volumes ...).
import type { z } from 'zod';
import {
  containsIP,
  formatCidr,
  formatIP,
  tryParseCidr,
  tryParseIP,
  type Family,
} from '../net/index.js';
import { clusterFamilyProblems } from './cluster-network-checks.js';
import {
  FAMILY_OF_NAME,
  serviceCIDRFor,
  serviceFamilies,
  withFamilyDefaults,
} from './cluster-families.js';
import { planServiceFamilies } from './service-families.js';
import { DEFAULT_NAMESPACE, kindByName, knownKindNames, type KindInfo } from './kinds.js';
import { adminNetworkPolicyProblems, defaultAdminNetworkPolicy } from './admin-network-policy.js';
import { defaultNetworkPolicy, networkPolicyProblems } from './network-policy.js';
import {
  adminNetworkPolicySchema,
  baselineAdminNetworkPolicySchema,
  bgpPeerSchema,
  clusterNetworkSchema,
  clusterRoleBindingSchema,
  clusterRoleSchema,
  endpointSliceSchema,
  endpointsSchema,
  leaseSchema,
  namespaceSchema,
  networkPolicySchema,
  nodeSchema,
  podSchema,
  roleBindingSchema,
  roleSchema,
  serviceAccountSchema,
  serviceSchema,
} from './schema.js';
import {
  DEFAULT_CLUSTER_NETWORK,
  type ClusterNetwork,
  type Kind,
  type ClusterRoleBinding,
  type EndpointSlice,
  type KubeObject,
  type Pod,
  type RoleBinding,
  type Service,
} from './types.js';

export interface ValidateOptions {
  /** Network settings for checks that need them (a given clusterIP inside the service CIDR). */
  network?: ClusterNetwork['spec'];
  /** Namespace for namespaced objects that name none (kubectl's `-n`). */
  namespace?: string;
  /** How to name the document when it has no usable kind/name, e.g. `web.yaml document 2`. */
  label?: string;
  /**
   * The document is a copy made for this call alone: the object returned is the document with
   * its defaults written in, instead of a second copy of it.
   */
  owned?: boolean;
}

export interface ValidationResult {
  /** The object with defaults filled in and unknown fields kept; absent when there are errors. */
  object?: KubeObject;
  errors: string[];
  warnings: string[];
}

/** Each kind's schema: what validation checks, and what the API server publishes as OpenAPI. */
export const SCHEMAS: Record<Kind, z.ZodType> = {
  Namespace: namespaceSchema,
  Node: nodeSchema,
  Pod: podSchema,
  Service: serviceSchema,
  Endpoints: endpointsSchema,
  EndpointSlice: endpointSliceSchema,
  ServiceAccount: serviceAccountSchema,
  Role: roleSchema,
  ClusterRole: clusterRoleSchema,
  RoleBinding: roleBindingSchema,
  ClusterRoleBinding: clusterRoleBindingSchema,
  ClusterNetwork: clusterNetworkSchema,
  BGPPeer: bgpPeerSchema,
  Lease: leaseSchema,
  NetworkPolicy: networkPolicySchema,
  AdminNetworkPolicy: adminNetworkPolicySchema,
  BaselineAdminNetworkPolicy: baselineAdminNetworkPolicySchema,
};

type Path = readonly PropertyKey[];

/** `['spec','ports',1,'port']` → `spec.ports[1].port`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(String(seg))) out += (out ? '.' : '') + String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

function valueAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function issueReason(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return 'is required';
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${shown(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => String(v)).join(', ')}`;
    default:
      return issue.message;
  }
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `Service my-ns/web`, `Node node-1`, or the label when the document names nothing usable. */
function describe(raw: Record<string, unknown>, info: KindInfo, opts: ValidateOptions): string {
  const meta = isMapping(raw.metadata) ? raw.metadata : {};
  if (typeof meta.name !== 'string' || meta.name === '') return opts.label ?? info.kind;
  if (!info.namespaced) return `${info.kind} ${meta.name}`;
  const ns = typeof meta.namespace === 'string' ? meta.namespace : namespaceFor(opts);
  return `${info.kind} ${ns}/${meta.name}`;
}

function namespaceFor(opts: ValidateOptions): string {
  return opts.namespace ?? DEFAULT_NAMESPACE;
}

/**
 * Unknown fields that are not kept but refused (kind and path → why, and what to write): a
 * secret written where podnet would store it and show it in `get`.
 */
const REFUSED_FIELDS: Record<string, string> = {
  'BGPPeer spec.password':
    'objects never hold keys: put the key in a file on each node and name that file in spec.passwordFile',
};

export function validateObject(raw: unknown, opts: ValidateOptions = {}): ValidationResult {
  const label = opts.label ?? 'object';
  if (!isMapping(raw)) {
    return {
      errors: [`${label}: must be a mapping with apiVersion, kind and metadata`],
      warnings: [],
    };
  }
  const info = typeof raw.kind === 'string' ? kindByName(raw.kind) : undefined;
  if (!info) {
    const why = raw.kind === undefined ? 'is required' : `unknown kind ${shown(raw.kind)}`;
    return {
      errors: [`${label}: kind: ${why} (podnet knows ${knownKindNames()})`],
      warnings: [],
    };
  }
  const who = describe(raw, info, opts);
  const errors: string[] = [];
  const warnings: string[] = [];
  const result = SCHEMAS[info.kind].safeParse(raw);
  for (const issue of result.success ? [] : result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = formatPath([...issue.path, key]);
        const refused = REFUSED_FIELDS[`${info.kind} ${path}`];
        if (refused) errors.push(`${who}: ${path}: ${refused}`);
        else warnings.push(`${who}: ${path}: unknown field, kept as given`);
      }
      continue;
    }
    const value = valueAt(raw, issue.path);
    const reason = issueReason(issue, value);
    const got = value === undefined ? '' : `, got ${shown(value)}`;
    errors.push(`${who}: ${formatPath(issue.path) || '(document)'}: ${reason}${got}`);
  }
  if (errors.length > 0) return { errors, warnings };

  const object = (opts.owned ? raw : structuredClone(raw)) as unknown as KubeObject;
  applyDefaults(object, info, opts, who, warnings);
  for (const problem of crossChecks(object, opts)) errors.push(`${who}: ${problem}`);
  return errors.length > 0 ? { errors, warnings } : { object, errors, warnings };
}

/** Kubernetes' defaults, written into the object so every reader sees the same values. */
function applyDefaults(
  obj: KubeObject,
  info: KindInfo,
  opts: ValidateOptions,
  who: string,
  warnings: string[],
): void {
  if (info.namespaced) {
    obj.metadata.namespace ??= namespaceFor(opts);
  } else if (obj.metadata.namespace !== undefined) {
    warnings.push(`${who}: metadata.namespace: ignored, ${info.kind} is not namespaced`);
    delete obj.metadata.namespace;
  }
  switch (obj.kind) {
    case 'Service': {
      const spec = obj.spec;
      spec.type ??= 'ClusterIP';
      if (spec.type !== 'ExternalName') spec.sessionAffinity ??= 'None';
      for (const p of spec.ports ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
      break;
    }
    case 'Pod':
      for (const c of obj.spec.containers) for (const p of c.ports ?? []) p.protocol ??= 'TCP';
      break;
    case 'ClusterNetwork':
      obj.spec = withFamilyDefaults({ ...DEFAULT_CLUSTER_NETWORK, ...obj.spec }, obj.spec);
      break;
    case 'NetworkPolicy':
      defaultNetworkPolicy(obj);
      break;
    case 'AdminNetworkPolicy':
    case 'BaselineAdminNetworkPolicy':
      defaultAdminNetworkPolicy(obj);
      break;
    default:
      break;
  }
}

function crossChecks(obj: KubeObject, opts: ValidateOptions): string[] {
  switch (obj.kind) {
    case 'Service':
      return serviceProblems(obj, opts.network);
    case 'Pod':
      return podProblems(obj);
    case 'ClusterNetwork':
      return clusterNetworkProblems(obj);
    case 'EndpointSlice':
      return endpointSliceProblems(obj);
    case 'RoleBinding':
    case 'ClusterRoleBinding':
      return bindingProblems(obj);
    case 'NetworkPolicy':
      return networkPolicyProblems(obj);
    case 'AdminNetworkPolicy':
    case 'BaselineAdminNetworkPolicy':
      return adminNetworkPolicyProblems(obj);
    default:
      return [];
  }
}

/** Names that must be unique in a list: `path[i].name: duplicate ... (already spec.x[j])`. */
function duplicates(names: (string | undefined)[], path: (i: number) => string, what: string) {
  const seen = new Map<string, number>();
  const problems: string[] = [];
  names.forEach((name, i) => {
    if (name === undefined) return;
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(`${path(i)}: duplicate ${what} ${JSON.stringify(name)} (also ${path(first)})`);
    } else seen.set(name, i);
  });
  return problems;
}

function serviceProblems(svc: Service, network: ClusterNetwork['spec'] | undefined): string[] {
  const spec = svc.spec;
  const ports = spec.ports ?? [];
  const problems: string[] = [];
  if (spec.type === 'ExternalName') {
    if (spec.selector !== undefined) {
      problems.push('spec.selector: must not be set when spec.type is ExternalName');
    }
    if (!spec.externalName) {
      problems.push('spec.externalName: is required when spec.type is ExternalName');
    }
    if (spec.clusterIP) {
      problems.push(`spec.clusterIP: must not be set when spec.type is ExternalName`);
    }
  } else {
    if (spec.externalName !== undefined) {
      problems.push(`spec.externalName: may only be set when spec.type is ExternalName`);
    }
    if (ports.length === 0 && spec.clusterIP !== 'None') {
      problems.push('spec.ports: must list at least one port (or set clusterIP: None)');
    }
  }
  if (spec.type === 'NodePort' && spec.clusterIP === 'None') {
    problems.push('spec.clusterIP: must not be None when spec.type is NodePort');
  }
  ports.forEach((p, i) => {
    if (p.nodePort !== undefined && spec.type !== 'NodePort') {
      problems.push(`spec.ports[${i}].nodePort: may only be set when spec.type is NodePort`);
    }
    if (ports.length > 1 && p.name === undefined) {
      problems.push(`spec.ports[${i}].name: is required when a service has more than one port`);
    }
  });
  problems.push(
    ...duplicates(
      ports.map((p) => p.name),
      (i) => `spec.ports[${i}].name`,
      'port name',
    ),
    ...duplicates(
      ports.map((p) => `${p.port}/${p.protocol ?? 'TCP'}`),
      (i) => `spec.ports[${i}].port`,
      'port/protocol',
    ),
    ...duplicates(
      ports.map((p) => (p.nodePort === undefined ? undefined : String(p.nodePort))),
      (i) => `spec.ports[${i}].nodePort`,
      'node port',
    ),
  );
  if (network && spec.type !== 'ExternalName') problems.push(...familyProblems(spec, network));
  return problems;
}

/** The service's families against the cluster's, and each address it asks for in its range. */
function familyProblems(spec: Service['spec'], network: ClusterNetwork['spec']): string[] {
  const decision = planServiceFamilies(spec, serviceFamilies(network));
  if (decision.problem !== undefined) return [decision.problem];
  const problems: string[] = [];
  decision.plan.requested.forEach((ip, i) => {
    const range = ip && serviceCIDRFor(network, ip.family);
    if (!ip || !range || containsIP(range, ip)) return;
    const field = spec.clusterIPs ? `spec.clusterIPs[${i}]` : 'spec.clusterIP';
    const shownRange = i === 0 ? network.serviceCIDR : formatCidr(range);
    problems.push(
      `${field}: must be inside the service CIDR ${shownRange}, got ${JSON.stringify(formatIP(ip))}`,
    );
  });
  return problems;
}

function podProblems(pod: Pod): string[] {
  const containers = pod.spec.containers;
  const portNames: (string | undefined)[] = [];
  const portPaths: string[] = [];
  containers.forEach((c, ci) =>
    (c.ports ?? []).forEach((p, pi) => {
      portNames.push(p.name);
      portPaths.push(`spec.containers[${ci}].ports[${pi}].name`);
    }),
  );
  return [
    ...duplicates(
      containers.map((c) => c.name),
      (i) => `spec.containers[${i}].name`,
      'container name',
    ),
    ...duplicates(portNames, (i) => portPaths[i]!, 'container port name'),
  ];
}

function clusterNetworkProblems(cn: ClusterNetwork): string[] {
  const problems: string[] = [];
  const spec = cn.spec;
  if (cn.metadata.name !== 'default') {
    problems.push(
      `metadata.name: must be "default" (podnet reads only that one), got ${JSON.stringify(cn.metadata.name)}`,
    );
  }
  problems.push(...clusterFamilyProblems(spec));
  // IP-in-IP encapsulates IPv4 packets only: an IPv6-only cluster's pods would be unreachable.
  if (spec.backend === 'ipip' && tryParseCidr(spec.clusterCIDR)?.family === 6) {
    problems.push(
      'spec.backend: ipip carries IPv4 pods only, and this cluster is IPv6-only (use vxlan, host-gw or auto)',
    );
  }
  if (spec.backend === 'cloud' && !spec.cloud) {
    problems.push(
      'spec.cloud: is required when spec.backend is cloud (provider, routeTableIDs, region)',
    );
  }
  if (spec.cloud && spec.backend !== 'cloud') {
    problems.push(
      `spec.cloud: may only be set when spec.backend is cloud, got backend ${spec.backend}`,
    );
  }
  problems.push(
    ...duplicates(
      spec.cloud?.routeTableIDs ?? [],
      (i) => `spec.cloud.routeTableIDs[${i}]`,
      'route table',
    ),
  );
  return problems;
}

const ADDRESS_FAMILY: Record<string, Family> = FAMILY_OF_NAME;

/** Each address must be of the slice's type; port names unique, as kube-proxy keys them. */
function endpointSliceProblems(slice: EndpointSlice): string[] {
  const problems: string[] = [];
  const family = ADDRESS_FAMILY[slice.addressType];
  slice.endpoints.forEach((ep, i) =>
    ep.addresses.forEach((address, j) => {
      if (family === undefined || tryParseIP(address)?.family === family) return;
      problems.push(
        `endpoints[${i}].addresses[${j}]: must be an ${slice.addressType} address, got ${JSON.stringify(address)}`,
      );
    }),
  );
  problems.push(
    ...duplicates(
      (slice.ports ?? []).map((p) => p.name ?? ''),
      (i) => `ports[${i}].name`,
      'port name',
    ),
  );
  return problems;
}

/** Kubernetes' rules for bindings: what a ClusterRoleBinding may refer to, whose accounts. */
function bindingProblems(binding: RoleBinding | ClusterRoleBinding): string[] {
  const problems: string[] = [];
  if (binding.kind === 'ClusterRoleBinding' && binding.roleRef.kind !== 'ClusterRole') {
    problems.push('roleRef.kind: must be ClusterRole in a ClusterRoleBinding');
  }
  (binding.subjects ?? []).forEach((s, i) => {
    if (s.kind === 'ServiceAccount') {
      if (s.apiGroup) problems.push(`subjects[${i}].apiGroup: must be empty for a ServiceAccount`);
      if (!s.namespace && binding.kind === 'ClusterRoleBinding') {
        problems.push(`subjects[${i}].namespace: is required for a ServiceAccount`);
      }
    } else if (s.apiGroup !== 'rbac.authorization.k8s.io') {
      problems.push(`subjects[${i}].apiGroup: must be "rbac.authorization.k8s.io" for a ${s.kind}`);
    }
  });
  return problems;
}
