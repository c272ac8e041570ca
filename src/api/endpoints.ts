// Which pods stand behind a service: selection by labels, readiness, and the port a service
// port reaches on each pod. The endpoint-slice controller writes what these say; everything
// else reads the slices it wrote.
import { compareIP, parseIP, type IP, parseStored } from '../net/index.js';
import type { Pod, Protocol, Service } from './types.js';

/**
 * The pod's Ready condition (without conditions, a Running phase counts), whether or not it
 * is being deleted: an endpoint's `serving`.
 */
export function isPodServing(pod: Pod): boolean {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready) return ready.status === 'True';
  return pod.status?.phase === 'Running';
}

/** Serving and not being deleted: a pod being deleted takes no new connections. */
export function isPodReady(pod: Pod): boolean {
  return pod.metadata.deletionTimestamp === undefined && isPodServing(pod);
}

export function selectorMatches(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** The pods a service selects: same namespace, labels match, has an IP, not finished. */
export function selectedPods(service: Service, pods: Iterable<Pod>): Pod[] {
  const selector = service.spec.selector;
  // No selector (or ExternalName): Kubernetes leaves endpoints to someone else; podnet has none.
  if (!selector || service.spec.type === 'ExternalName') return [];
  const ns = service.metadata.namespace ?? 'default';
  const out: { pod: Pod; ip: IP }[] = [];
  for (const pod of pods) {
    if ((pod.metadata.namespace ?? 'default') !== ns) continue;
    if (!pod.status?.podIP) continue;
    if (pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') continue;
    if (!selectorMatches(selector, pod.metadata.labels)) continue;
    const where = `Pod ${ns}/${pod.metadata.name}`;
    out.push({ pod, ip: parseStored(parseIP, pod.status.podIP, where, 'status.podIP') });
  }
  return out.sort((a, b) => compareIP(a.ip, b.ip)).map((entry) => entry.pod);
}

/** The port a service port reaches on this pod, or undefined if the pod lacks that named port. */
export function resolveTargetPort(
  targetPort: number | string | undefined,
  servicePort: number,
  protocol: Protocol,
  pod: Pod,
): number | undefined {
  if (targetPort === undefined) return servicePort;
  if (typeof targetPort === 'number') return targetPort;
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) {
      if (p.name === targetPort && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
    }
  }
  return undefined;
}
