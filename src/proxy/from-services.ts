// From Service objects and their endpoints (read from EndpointSlices) to the proxy's model.
// Headless and ExternalName services get no rules; a client is sent to ready endpoints only,
// or, when none is ready, to those still serving while they terminate (kube-proxy's rule).
// The model is of one address family: a dual-stack service is one rule per family, each with
// that family's cluster IP and the endpoints of that family's slices.
import { usableEndpoints } from '../api/slice-endpoints.js';
import type { Protocol, Service } from '../api/types.js';
import type { Family } from '../net/index.js';
import {
  DEFAULT_AFFINITY_SECONDS,
  clusterIPFor,
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

/**
 * Service ports to program for one service in one family (empty for headless and
 * ExternalName, and for a service without a cluster IP of that family).
 */
export function servicePortRules(
  svc: Service,
  endpoints?: ServicePortsEndpoints,
  family: Family = 4,
): ServicePortRule[] {
  if (!hasClusterIP(svc)) return [];
  const clusterIP = clusterIPFor(svc.spec.clusterIPs ?? [svc.spec.clusterIP!], family);
  if (clusterIP === undefined) return [];
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
      clusterIP,
      protocol,
      port: sp.port,
      endpoints: chosenEndpoints(endpoints, portName, protocol, family),
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
  family: Family,
): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  const port = endpoints?.ports.find((p) => p.name === portName && p.protocol === protocol);
  for (const ep of usableEndpoints(port?.endpoints ?? [])) {
    seen.set(`${ep.ip}:${ep.port}`, { ip: ep.ip, port: ep.port });
  }
  return sortEndpoints(seen.values(), family);
}

/** All service ports of a cluster in one family, in a stable order. */
export function clusterServicePorts(
  services: Service[],
  endpointsOf: (svc: Service) => ServicePortsEndpoints | undefined,
  family: Family = 4,
): ServicePortRule[] {
  return services
    .flatMap((svc) => servicePortRules(svc, endpointsOf(svc), family))
    .sort((a, b) => (portKey(a) < portKey(b) ? -1 : portKey(a) > portKey(b) ? 1 : 0));
}
