// Reading a service's endpoints from its EndpointSlices, the way kube-proxy does: slices are
// found by their `kubernetes.io/service-name` label (whoever wrote them: podnet's controller,
// or a person for a service without a selector), conditions a slice leaves out mean ready,
// serving and not terminating, and the same address in two slices counts once.
import { compareIP, tryParseIP } from '../net/index.js';
import { LABEL_SERVICE_NAME, type EndpointSlice, type Protocol, type Service } from './types.js';

/** One address behind a service, with its conditions resolved. */
export interface EndpointAddress {
  ip: string;
  /** The pod it is, when the slice says so (`targetRef`). */
  podName?: string;
  nodeName?: string;
  zone?: string;
  /** The name DNS gives it under a headless service, when the slice has one. */
  hostname?: string;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
}

/** An address behind one service port, with that port's number on it. */
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
  /** Every address of the service's slices (in address order), whatever its ports. */
  addresses: EndpointAddress[];
  /** One entry per service port, in the service's order. */
  ports: ServicePortEndpoints[];
}

/** Whether a slice is one of this service's: same namespace, the service-name label. */
export function sliceBelongsTo(slice: EndpointSlice, svc: Service): boolean {
  return (
    (slice.metadata.namespace ?? 'default') === (svc.metadata.namespace ?? 'default') &&
    slice.metadata.labels?.[LABEL_SERVICE_NAME] === svc.metadata.name
  );
}

/** Slices by `namespace/service`, for looking a service's slices up once per sync. */
export function slicesByService(slices: Iterable<EndpointSlice>): Map<string, EndpointSlice[]> {
  const out = new Map<string, EndpointSlice[]>();
  for (const slice of slices) {
    const service = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    if (service === undefined) continue;
    const key = `${slice.metadata.namespace ?? 'default'}/${service}`;
    out.set(key, [...(out.get(key) ?? []), slice]);
  }
  return out;
}

export function serviceKey(svc: Service): string {
  return `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
}

function resolved(slice: EndpointSlice, index: number): EndpointAddress | undefined {
  const e = slice.endpoints[index]!;
  const ip = e.addresses[0];
  if (ip === undefined || !tryParseIP(ip)) return undefined;
  const ready = e.conditions?.ready ?? true;
  return {
    ip,
    ...(e.targetRef?.kind === 'Pod' && e.targetRef.name ? { podName: e.targetRef.name } : {}),
    ...(e.nodeName ? { nodeName: e.nodeName } : {}),
    ...(e.zone ? { zone: e.zone } : {}),
    ...(e.hostname ? { hostname: e.hostname } : {}),
    ready,
    serving: e.conditions?.serving ?? ready,
    terminating: e.conditions?.terminating ?? false,
  };
}

function byAddress(a: { ip: string }, b: { ip: string }): number {
  return compareIP(tryParseIP(a.ip)!, tryParseIP(b.ip)!);
}

/**
 * A service's endpoints as its slices state them. A service port takes, from each slice, the
 * slice port of the same name and protocol; FQDN slices are not addresses and are skipped.
 */
export function endpointsFromSlices(svc: Service, slices: Iterable<EndpointSlice>): EndpointSet {
  const addresses = new Map<string, EndpointAddress>();
  const ports = (svc.spec.ports ?? []).map((sp): ServicePortEndpoints => ({
    name: sp.name ?? '',
    protocol: sp.protocol ?? 'TCP',
    port: sp.port,
    ...(sp.nodePort !== undefined ? { nodePort: sp.nodePort } : {}),
    endpoints: [],
  }));
  const seen = ports.map(() => new Set<string>());
  for (const slice of slices) {
    if (!sliceBelongsTo(slice, svc) || slice.addressType === 'FQDN') continue;
    slice.endpoints.forEach((_, i) => {
      const address = resolved(slice, i);
      if (!address) return;
      if (!addresses.has(address.ip)) addresses.set(address.ip, address);
      ports.forEach((sp, p) => {
        const match = (slice.ports ?? []).find(
          (x) => (x.name ?? '') === sp.name && (x.protocol ?? 'TCP') === sp.protocol,
        );
        if (match?.port === undefined) return;
        const key = `${address.ip}:${match.port}`;
        if (seen[p]!.has(key)) return;
        seen[p]!.add(key);
        sp.endpoints.push({ ...address, port: match.port });
      });
    });
  }
  for (const sp of ports) sp.endpoints.sort(byAddress);
  return {
    namespace: svc.metadata.namespace ?? 'default',
    service: svc.metadata.name,
    addresses: [...addresses.values()].sort(byAddress),
    ports,
  };
}

/**
 * kube-proxy's choice of where to send new connections: the ready endpoints; when there are
 * none, those still serving while they terminate (so that a rolling update never leaves a
 * service with nowhere to go while old pods drain).
 */
export function usableEndpoints<T extends EndpointAddress>(endpoints: readonly T[]): T[] {
  const ready = endpoints.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return endpoints.filter((e) => e.serving && e.terminating);
}
