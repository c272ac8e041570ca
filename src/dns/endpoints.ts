// A service's ready endpoints in the shape DNS records need. Which pods back a service, and
// which port each service port reaches on each pod, is src/api's endpoints function (shared
// with the proxy); DNS only adds the per-endpoint host name.
import { serviceEndpoints } from '../api/endpoints.js';
import type { Pod, Service } from '../api/types.js';
import type { EndpointRecord } from './records.js';

export function dnsEndpoints(svc: Service, pods: Iterable<Pod>): EndpointRecord[] {
  const set = serviceEndpoints(svc, pods);
  return set.addresses.map((a) => ({
    ip: a.ip,
    // Like the endpoints controller: `spec.hostname` names the pod only when its
    // `spec.subdomain` is this service; otherwise the dashed IP (`10-244-1-5`) does.
    hostname:
      a.hostname && a.subdomain === svc.metadata.name
        ? a.hostname.toLowerCase()
        : a.ip.replace(/[.:]/g, '-'),
    ports: set.ports.flatMap((p) => {
      const ep = p.name ? p.endpoints.find((e) => e.podName === a.podName) : undefined;
      return ep ? [{ name: p.name.toLowerCase(), protocol: p.protocol, port: ep.port }] : [];
    }),
  }));
}
