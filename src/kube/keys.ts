// Where a store key lives on the Kubernetes API. Object keys (`/podnet/<plural>/<ns>/<name>`)
// are the resources of the same name; every other key podnet keeps (subnet leases, elections,
// reservations) is a coordination.k8s.io Lease in the source's own namespace whose annotations
// hold the key and its value, so a cluster needs no storage beyond its API.
import { createHash } from 'node:crypto';
import { KINDS, type KindInfo } from '../api/kinds.js';
import { KEY_ROOT } from '../store/objects.js';

/** Labels every Lease that holds a plain store key (so they are listed and watched together). */
export const RAW_KEY_LABEL = 'podnet.io/store-key';
/** Annotations of such a Lease: the key, its value, and the store lease it is bound to. */
export const KEY_ANNOTATION = 'podnet.io/key';
export const VALUE_ANNOTATION = 'podnet.io/value';
export const BOUND_ANNOTATION = 'podnet.io/lease';
/** The namespace that holds podnet's own Leases unless configured otherwise. */
export const DEFAULT_SOURCE_NAMESPACE = 'kube-system';

export type Location =
  { type: 'object'; kind: KindInfo; namespace?: string; name?: string } | { type: 'raw' };

/** Object kinds by store segment, longest first (`coordination.k8s.io/leases` has a slash). */
const SEGMENTS = KINDS.map((k) => ({ segment: `${k.storeSegment ?? k.plural}/`, kind: k })).sort(
  (a, b) => b.segment.length - a.segment.length,
);

/**
 * What a key or key prefix names: a kind (with namespace and name when given), or a plain key.
 * A prefix ends in `/` after the kind (all namespaces) or after the namespace.
 */
export function locate(keyOrPrefix: string): Location {
  if (!keyOrPrefix.startsWith(KEY_ROOT)) return { type: 'raw' };
  const rest = keyOrPrefix.slice(KEY_ROOT.length);
  const match = SEGMENTS.find((s) => rest.startsWith(s.segment));
  if (!match) return { type: 'raw' };
  const parts = rest.slice(match.segment.length).split('/');
  if (match.kind.namespaced) {
    const [namespace, name] = parts;
    return {
      type: 'object',
      kind: match.kind,
      namespace: namespace || undefined,
      name: name || undefined,
    };
  }
  return { type: 'object', kind: match.kind, name: parts[0] || undefined };
}

function groupPath(kind: KindInfo): string {
  return kind.apiVersion === 'v1' ? '/api/v1' : `/apis/${kind.apiVersion}`;
}

/** The REST path of a kind's collection (one namespace or all) or of one object. */
export function resourcePath(kind: KindInfo, namespace?: string, name?: string): string {
  const scope = kind.namespaced && namespace ? `/namespaces/${namespace}` : '';
  return `${groupPath(kind)}${scope}/${kind.plural}${name ? `/${name}` : ''}`;
}

/** The name of the Lease that holds a plain key: a hash, since keys are not DNS names. */
export function rawKeyName(key: string): string {
  return `podnet-key-${createHash('sha256').update(key).digest('hex').slice(0, 40)}`;
}
