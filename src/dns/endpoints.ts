// A service's ready endpoints in the shape DNS records need, read from its EndpointSlices
// (src/api's reading, shared with the proxy); DNS only adds the per-endpoint host name.
import { endpointsFromSlices } from '../api/slice-endpoints.js';
import type { EndpointSlice, Service } from '../api/types.js';
import type { EndpointRecord } from './records.js';

export function dnsEndpoints(svc: Service, slices: Iterable<EndpointSlice>): EndpointRecord[] {
  const set = endpointsFromSlices(svc, slices);
  return set.addresses
    .filter((a) => a.ready)
    .map((a) => ({
      ip: a.ip,
      // The slice names an endpoint only for a pod whose `spec.subdomain` is this service;
      // otherwise the dashed IP (`10-244-1-5`) does, as CoreDNS answers.
      hostname: a.hostname ? a.hostname.toLowerCase() : a.ip.replace(/[.:]/g, '-'),
      ports: set.ports.flatMap((p) => {
        const ep = p.name ? p.endpoints.find((e) => e.ip === a.ip) : undefined;
        return ep ? [{ name: p.name.toLowerCase(), protocol: p.protocol, port: ep.port }] : [];
      }),
    }));
}
