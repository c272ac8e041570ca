// From Service objects and their endpoints (read from EndpointSlices) to the proxy's model.
// Headless and ExternalName services get no rules; a client is sent to ready endpoints only,
// or, when none is ready, to those still serving while they terminate (kube-proxy's rule).
import { usableEndpoints } from '../api/slice-endpoints.js';
import type { Protocol, Service } from '../api/types.js';
import {
  DEFAULT_AFFINITY_SECONDS,
  portKey,
  sortEndpoints,
  type Endpoint,
  type ServicePortRule,
} from './model.js';

/**
 * The part of a service's endpoints (src/api/slice-endpoints.ts) the proxy reads: per service
 * port, the addresses behind it with their port and conditions.
 */
export interface ServicePortsEndpoints {
  ports: {
    name: string;
    protocol: Protocol;
    endpoints: {
      ip: string;
      port: number;
      ready: boolean;
      serving: boolean;
      terminating: boolean;
    }[];
  }[];
}

export function hasClusterIP(svc: Service): boolean {
  const ip = svc.spec.clusterIP;
  return svc.spec.type !== 'ExternalName' && !!ip && ip !== 'None';
}

/** Service ports to program for one service (empty for headless and ExternalName). */
export function servicePortRules(
  svc: Service,
  endpoints?: ServicePortsEndpoints,
): ServicePortRule[] {
  if (!hasClusterIP(svc)) return [];
  const ns = svc.metadata.namespace ?? 'default';
  const affinity =
    svc.spec.sessionAffinity === 'ClientIP'
      ? (svc.spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS)
      : undefined;
  return (svc.spec.ports ?? []).map((sp) => {
    const protocol = sp.protocol ?? 'TCP';
    const portName = sp.name ?? '';
    const rule: ServicePortRule = {
      name: `${ns}/${svc.metadata.name}:${portName}`,
      clusterIP: svc.spec.clusterIP!,
      protocol,
      port: sp.port,
      endpoints: chosenEndpoints(endpoints, portName, protocol),
    };
    if (svc.spec.type === 'NodePort' && sp.nodePort) rule.nodePort = sp.nodePort;
    if (affinity !== undefined) rule.affinitySeconds = affinity;
    return rule;
  });
}

/** The endpoints of the named port new connections may go to, deduplicated and sorted. */
function chosenEndpoints(
  endpoints: ServicePortsEndpoints | undefined,
  portName: string,
  protocol: Protocol,
): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  const port = endpoints?.ports.find((p) => p.name === portName && p.protocol === protocol);
  for (const ep of usableEndpoints(port?.endpoints ?? [])) {
    seen.set(`${ep.ip}:${ep.port}`, { ip: ep.ip, port: ep.port });
  }
  return sortEndpoints(seen.values());
}

/** All service ports of a cluster, in a stable order. */
export function clusterServicePorts(
  services: Service[],
  endpointsOf: (svc: Service) => ServicePortsEndpoints | undefined,
): ServicePortRule[] {
  return services
    .flatMap((svc) => servicePortRules(svc, endpointsOf(svc)))
    .sort((a, b) => (portKey(a) < portKey(b) ? -1 : portKey(a) > portKey(b) ? 1 : 0));
}
