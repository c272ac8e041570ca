// What `apply` keeps of the object already stored: identity (uid, creation time), status that
// agents write, fields that are allocated or decided once (cluster IP, node ports, a pod's node)
// and annotations agents publish. Kubernetes keeps the same ones; this is the simple two-way
// version of its merge, enough because podnet objects have one writer per field.
import type { KubeObject, Pod, Service } from './types.js';
import { cloneJson } from './clone.js';

export class ImmutableFieldError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'ImmutableFieldError';
  }
}

export function mergeForApply<T extends KubeObject>(existing: T | undefined, incoming: T): T {
  if (!existing) return incoming;
  const merged = cloneJson(incoming);
  merged.metadata.uid = existing.metadata.uid;
  merged.metadata.creationTimestamp = existing.metadata.creationTimestamp;
  // Deletion, once begun, is the registry's to finish: a manifest neither starts nor stops it.
  delete merged.metadata.deletionTimestamp;
  delete merged.metadata.deletionGracePeriodSeconds;
  if (existing.metadata.deletionTimestamp !== undefined) {
    merged.metadata.deletionTimestamp = existing.metadata.deletionTimestamp;
  }
  if (existing.metadata.deletionGracePeriodSeconds !== undefined) {
    merged.metadata.deletionGracePeriodSeconds = existing.metadata.deletionGracePeriodSeconds;
  }
  const annotations = { ...existing.metadata.annotations, ...incoming.metadata.annotations };
  if (Object.keys(annotations).length > 0) merged.metadata.annotations = annotations;
  if (
    'status' in existing &&
    existing.status !== undefined &&
    !('status' in incoming && incoming.status)
  ) {
    (merged as { status?: unknown }).status = cloneJson(existing.status);
  }
  if (merged.kind === 'Service') keepServiceAllocations(existing as Service, merged);
  if (merged.kind === 'Pod') keepPodPlacement(existing as Pod, merged);
  return merged;
}

function keepServiceAllocations(existing: Service, merged: Service): void {
  const was = existing.spec.clusterIP;
  const now = merged.spec.clusterIP;
  refuseChange('spec.clusterIP', was, now, 'change', 'delete the service and apply it again');
  refuseChange(
    'spec.ipFamilies[0]',
    existing.spec.ipFamilies?.[0],
    merged.spec.ipFamilies?.[0],
    'change the primary family',
    'delete the service and apply it again',
  );
  if (was && !now && merged.spec.type === existing.spec.type) {
    keepServiceFamilies(existing, merged);
    const ips = existing.spec.clusterIPs ?? merged.spec.clusterIPs;
    delete merged.spec.clusterIPs;
    merged.spec.clusterIP = was;
    if (ips) {
      merged.spec.clusterIPs = merged.spec.ipFamilyPolicy === 'SingleStack' ? ips.slice(0, 1) : ips;
    }
  }
  if (merged.spec.type !== 'NodePort' || existing.spec.type !== 'NodePort') return;
  for (const p of merged.spec.ports ?? []) {
    if (p.nodePort !== undefined) continue;
    const old = existing.spec.ports?.find(
      (q) => q.port === p.port && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'),
    );
    if (old?.nodePort !== undefined) p.nodePort = old.nodePort;
  }
}

/**
 * The families that came with the kept addresses, unless the apply names its own. Asking for
 * SingleStack drops the secondary family and its address, as Kubernetes' downgrade does.
 */
function keepServiceFamilies(existing: Service, merged: Service): void {
  const { ipFamilies, ipFamilyPolicy } = merged.spec;
  delete merged.spec.ipFamilies;
  delete merged.spec.ipFamilyPolicy;
  const families = ipFamilies ?? existing.spec.ipFamilies;
  const policy = ipFamilyPolicy ?? existing.spec.ipFamilyPolicy;
  if (families) merged.spec.ipFamilies = policy === 'SingleStack' ? families.slice(0, 1) : families;
  if (policy) merged.spec.ipFamilyPolicy = policy;
}

function keepPodPlacement(existing: Pod, merged: Pod): void {
  const was = existing.spec.nodeName;
  const now = merged.spec.nodeName;
  refuseChange('spec.nodeName', was, now, 'move the pod', 'delete it and apply it again');
  if (was && !now) merged.spec.nodeName = was;
}

/** A field that is set for good: an apply may leave it out, but not change it. */
function refuseChange(
  field: string,
  was: string | undefined,
  now: string | undefined,
  what: string,
  instead: string,
): void {
  if (was && now && was !== now) {
    throw new ImmutableFieldError(field, `cannot ${what} from ${was} to ${now}: ${instead}`);
  }
}
