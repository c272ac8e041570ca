// Namespaces as Kubernetes has them: the namespaces a cluster always has, the name label every
// Namespace carries, and the rule that objects live only in a namespace that exists and is not
// being deleted.
import { kindInfo } from '../api/kinds.js';
import type { KubeObject, Namespace } from '../api/types.js';

/** Set on every Namespace by admission, so that selectors can pick namespaces by name. */
export const LABEL_NAMESPACE_NAME = 'kubernetes.io/metadata.name';

/**
 * Namespaces that exist from the start and cannot be deleted: `default` for objects that name
 * none, `kube-system` for the cluster DNS, `kube-node-lease` for the nodes' heartbeats. Admission creates them when first needed (as
 * Kubernetes' API server does at start), so a fresh store is a usable cluster.
 */
export const SYSTEM_NAMESPACES: readonly string[] = ['default', 'kube-system', 'kube-node-lease'];

export const TERMINATING = 'Terminating';

export function namespaceObject(name: string): Namespace {
  return withNameLabel({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

/** The Namespace with its name label set (whatever the manifest said about that label). */
export function withNameLabel(ns: Namespace): Namespace {
  const labels = { ...ns.metadata.labels, [LABEL_NAMESPACE_NAME]: ns.metadata.name };
  return { ...ns, metadata: { ...ns.metadata, labels } };
}

export function isTerminating(ns: Namespace): boolean {
  return ns.metadata.deletionTimestamp !== undefined || ns.status?.phase === TERMINATING;
}

/** The namespace a namespaced object lives in; undefined for cluster-scoped kinds. */
export function namespaceOf(obj: KubeObject): string | undefined {
  return kindInfo(obj.kind).namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
}

/**
 * Why an object cannot be created in its namespace, or undefined when it can. `known` holds the
 * namespaces as they are or will be once the manifest is written; system namespaces count as
 * existing.
 */
export function namespaceProblem(
  obj: KubeObject,
  known: ReadonlyMap<string, Namespace>,
): string | undefined {
  const ns = namespaceOf(obj);
  if (ns === undefined) return undefined;
  const found = known.get(ns);
  if (!found) {
    if (SYSTEM_NAMESPACES.includes(ns)) return undefined;
    return `metadata.namespace: namespace "${ns}" not found; create it first (kind: Namespace, metadata.name: ${ns}) or add it to the manifest`;
  }
  if (isTerminating(found)) {
    return `metadata.namespace: namespace "${ns}" is being deleted (Terminating); wait until it is gone, then create it again`;
  }
  return undefined;
}

/** A Namespace being deleted: its deletion time and the `Terminating` phase. */
export function markTerminating(ns: Namespace, now: Date): Namespace {
  return {
    ...ns,
    metadata: { ...ns.metadata, deletionTimestamp: ns.metadata.deletionTimestamp ?? stamp(now) },
    status: { ...ns.status, phase: TERMINATING },
  };
}

/** RFC 3339 to the second, as Kubernetes writes timestamps. */
export function stamp(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}
