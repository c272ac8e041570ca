// Graceful termination as kubelet runs it: a deleted pod's containers keep running through
// their preStop sleep, within the deletion's grace period, while the endpoint-slice controller
// marks the pod terminating and every host's proxy takes it out of its services; only then is
// the pod torn down. Without it, connections chosen for the pod in that window are refused.
import type { Pod } from '../api/types.js';

/**
 * When (epoch ms) a pod being deleted may be torn down, its sleep counted from `seenAt` (when
 * its runner first saw it terminating: the stamp has whole seconds only); undefined for a pod
 * not being deleted.
 */
export function teardownAt(pod: Pod, seenAt?: number): number | undefined {
  const stamp = pod.metadata.deletionTimestamp;
  if (stamp === undefined) return undefined;
  const since = Math.max(Date.parse(stamp), seenAt ?? 0);
  const sleep = Math.max(
    0,
    ...pod.spec.containers.map((c) => c.lifecycle?.preStop?.sleep?.seconds ?? 0),
  );
  // The deletion's grace period bounds the sleep (a forced delete has none).
  const grace = pod.metadata.deletionGracePeriodSeconds ?? sleep;
  return since + Math.min(sleep, grace) * 1000;
}

export interface Draining {
  /** `namespace/name` → uid of the pods still in their preStop sleep: not to be torn down yet. */
  held: Map<string, string | undefined>;
  /** When the first of them may go (epoch ms). */
  nextTeardown?: number;
}

/**
 * Which of the pods being deleted are still draining at `now`, and when the next one ends;
 * `seen` holds when the runner first saw each (by uid, else key), and learns the new ones.
 */
export function draining(
  terminating: readonly Pod[],
  now: number,
  seen: Map<string, number> = new Map(),
): Draining {
  const held = new Map<string, string | undefined>();
  let nextTeardown: number | undefined;
  const current = new Set<string>();
  for (const p of terminating) {
    const id = p.metadata.uid ?? `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;
    current.add(id);
    if (!seen.has(id)) seen.set(id, now);
    const at = teardownAt(p, seen.get(id));
    if (at === undefined || at <= now) continue;
    held.set(`${p.metadata.namespace ?? 'default'}/${p.metadata.name}`, p.metadata.uid);
    nextTeardown = Math.min(nextTeardown ?? at, at);
  }
  // Pods no longer being deleted (gone) are forgotten.
  for (const id of seen.keys()) if (!current.has(id)) seen.delete(id);
  return nextTeardown === undefined ? { held } : { held, nextTeardown };
}

/** Whether the pod `key` with `uid` (as a runtime recorded it) is still draining. */
export function isDraining(d: Draining, key: string, uid: string | undefined): boolean {
  if (!d.held.has(key)) return false;
  const want = d.held.get(key);
  return want === undefined || !uid || uid === want;
}
