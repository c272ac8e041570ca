// A service's ready endpoints in the shape DNS records need. Which pods back a service is
// decided by src/api's endpoints function (shared with the proxy); this module only adds
// what DNS adds: the per-endpoint hostname.
import type { Pod, Service } from '../api/types.js';
import type { EndpointRecord } from './records.js';

/** Pods selected by the service, ready, with an IP: the endpoints the proxy would use too. */
export function readyPods(svc: Service, pods: Iterable<Pod>): Pod[] {
  const selector = svc.spec.selector;
  if (!selector || Object.keys(selector).length === 0) return [];
  const out: Pod[] = [];
  for (const pod of pods) {
    if (pod.metadata.namespace !== svc.metadata.namespace) continue;
    if (!podIP(pod) || !isReady(pod)) continue;
    const labels = pod.metadata.labels ?? {};
    if (Object.entries(selector).every(([k, v]) => labels[k] === v)) out.push(pod);
  }
  return out;
}

function isReady(pod: Pod): boolean {
  if (pod.status?.phase !== 'Running') return false;
  const ready = pod.status.conditions?.find((c) => c.type === 'Ready');
  return ready === undefined || ready.status === 'True';
}

function podIP(pod: Pod): string | undefined {
  return pod.status?.podIP ?? pod.status?.podIPs?.[0]?.ip;
}

/**
 * The DNS view of one endpoint. Like the endpoints controller, a pod's `spec.hostname` names it
 * only when its `spec.subdomain` is this service; otherwise the dashed IP (`10-244-1-5`) does.
 */
export function endpointRecord(svc: Service, pod: Pod): EndpointRecord {
  const ip = podIP(pod)!;
  const named = pod.spec.hostname && pod.spec.subdomain === svc.metadata.name;
  const hostname = named ? pod.spec.hostname!.toLowerCase() : ip.replace(/[.:]/g, '-');
  const ports: EndpointRecord['ports'] = [];
  for (const sp of svc.spec.ports ?? []) {
    if (!sp.name) continue;
    const protocol = sp.protocol ?? 'TCP';
    ports.push({
      name: sp.name.toLowerCase(),
      protocol,
      port: targetPort(sp.targetPort, sp.port, pod, protocol),
    });
  }
  return { ip, hostname, ports };
}

/** A numeric targetPort, a named one resolved on this pod's containers, else the service port. */
function targetPort(
  target: number | string | undefined,
  port: number,
  pod: Pod,
  protocol: string,
): number {
  if (typeof target === 'number') return target;
  if (target === undefined || /^\d+$/.test(target)) return target ? Number(target) : port;
  for (const c of pod.spec.containers ?? []) {
    const match = c.ports?.find((p) => p.name === target && (p.protocol ?? 'TCP') === protocol);
    if (match) return match.containerPort;
  }
  return port;
}
