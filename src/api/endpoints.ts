// Endpoints are derived, never stored: from a service and the pods, which pod IP and port each
// service port reaches. One function, shared by the proxy (DNAT targets) and DNS (A/SRV records
// of headless services, pod host names).
import { compareIP, parseIP, type IP, parseStored } from '../net/index.js';
import type { Pod, Protocol, Service } from './types.js';

/** A pod behind a service. */
export interface EndpointAddress {
  ip: string;
  podName: string;
  nodeName?: string;
  /** `spec.hostname`/`spec.subdomain` of the pod, for DNS's per-pod records. */
  hostname?: string;
  subdomain?: string;
  ready: boolean;
}

/** A pod behind one service port, with that port resolved for that pod. */
export interface PortEndpoint extends EndpointAddress {
  port: number;
}

export interface ServicePortEndpoints {
  /** The service port's name ('' when unnamed). */
  name: string;
  protocol: Protocol;
  port: number;
  nodePort?: number;
  endpoints: PortEndpoint[];
}

export interface EndpointSet {
  namespace: string;
  service: string;
  /** Every selected pod with an IP (ordered by IP), whatever the ports: headless DNS A records. */
  addresses: EndpointAddress[];
  /** One entry per service port, in the service's order. */
  ports: ServicePortEndpoints[];
}

export interface EndpointOptions {
  /** Keep pods that are not ready (with `ready: false`), as publishNotReadyAddresses does. */
  includeNotReady?: boolean;
}

/** Ready condition True; without conditions, a Running phase counts as ready. */
export function isPodReady(pod: Pod): boolean {
  // A pod being deleted takes no new connections while its node tears it down.
  if (pod.metadata.deletionTimestamp !== undefined) return false;
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready) return ready.status === 'True';
  return pod.status?.phase === 'Running';
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

export function serviceEndpoints(
  service: Service,
  pods: Iterable<Pod>,
  opts: EndpointOptions = {},
): EndpointSet {
  const chosen = selectedPods(service, pods).filter((p) => opts.includeNotReady || isPodReady(p));
  const addresses = chosen.map((pod): EndpointAddress => ({
    ip: pod.status!.podIP!,
    podName: pod.metadata.name,
    nodeName: pod.spec.nodeName,
    hostname: pod.spec.hostname,
    subdomain: pod.spec.subdomain,
    ready: isPodReady(pod),
  }));
  const ports = (service.spec.ports ?? []).map((sp): ServicePortEndpoints => {
    const protocol = sp.protocol ?? 'TCP';
    const endpoints: PortEndpoint[] = [];
    chosen.forEach((pod, i) => {
      const port = resolveTargetPort(sp.targetPort, sp.port, protocol, pod);
      if (port !== undefined) endpoints.push({ ...addresses[i]!, port });
    });
    return { name: sp.name ?? '', protocol, port: sp.port, nodePort: sp.nodePort, endpoints };
  });
  return {
    namespace: service.metadata.namespace ?? 'default',
    service: service.metadata.name,
    addresses,
    ports,
  };
}

/** The Kubernetes v1 `Endpoints` object for a set (what `kubectl get endpoints -o json` shows). */
export interface EndpointsObject {
  apiVersion: 'v1';
  kind: 'Endpoints';
  metadata: { name: string; namespace: string };
  subsets: {
    addresses: {
      ip: string;
      nodeName?: string;
      hostname?: string;
      targetRef: { kind: 'Pod'; name: string; namespace: string };
    }[];
    ports: { name?: string; port: number; protocol: Protocol }[];
  }[];
}

/**
 * Kubernetes' shape of the same facts: pods that resolve the service ports to the same numbers
 * share a subset (named target ports can differ from pod to pod).
 */
export function toEndpointsObject(set: EndpointSet): EndpointsObject {
  const subsets = new Map<string, EndpointsObject['subsets'][number]>();
  for (const addr of set.addresses) {
    const ports = set.ports.flatMap((sp) => {
      const e = sp.endpoints.find((x) => x.podName === addr.podName);
      return e
        ? [{ ...(sp.name ? { name: sp.name } : {}), port: e.port, protocol: sp.protocol }]
        : [];
    });
    const signature = JSON.stringify(ports);
    const subset = subsets.get(signature) ?? { addresses: [], ports };
    subset.addresses.push({
      ip: addr.ip,
      ...(addr.nodeName ? { nodeName: addr.nodeName } : {}),
      ...(addr.hostname ? { hostname: addr.hostname } : {}),
      targetRef: { kind: 'Pod', name: addr.podName, namespace: set.namespace },
    });
    subsets.set(signature, subset);
  }
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: set.service, namespace: set.namespace },
    subsets: [...subsets.values()],
  };
}
