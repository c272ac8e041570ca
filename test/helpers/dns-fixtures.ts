// Cluster objects for DNS tests: a ClusterIP service with named and unnamed ports, a headless
// service with named and unnamed pods (one not ready), an ExternalName service.
import { planEndpointSlices } from '../../src/api/endpoint-slices.js';
import type { EndpointSlice, KubeObject, Namespace, Pod, Service } from '../../src/api/types.js';
import type { ClusterIndex } from '../../src/dns/cluster-index.js';

export function namespace(name: string): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

export function service(ns: string, name: string, spec: Service['spec']): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec };
}

export function pod(
  ns: string,
  name: string,
  ip: string,
  labels: Record<string, string>,
  extra: { hostname?: string; subdomain?: string; ready?: boolean; port?: number } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels },
    spec: {
      ...(extra.hostname ? { hostname: extra.hostname } : {}),
      ...(extra.subdomain ? { subdomain: extra.subdomain } : {}),
      containers: [
        { name: 'c', ports: [{ name: 'web', containerPort: extra.port ?? 8080, protocol: 'TCP' }] },
      ],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }],
    },
  };
}

/** The slices the endpoint-slice controller would write for these objects' services. */
export function withSlices(objects: KubeObject[]): KubeObject[] {
  const pods = objects.filter((o): o is Pod => o.kind === 'Pod');
  const slices = objects
    .filter((o): o is Service => o.kind === 'Service')
    .flatMap((svc) => planEndpointSlices(svc, pods, []).create);
  return [...objects, ...slices];
}

/**
 * Pod and service changes as the DNS index sees them on a cluster: through the slices the
 * controller's own reconcile writes (created, rewritten in place, deleted).
 */
export function sliceWriter(index: ClusterIndex, objects: KubeObject[]) {
  const pods = new Map<string, Pod>();
  const services = new Map<string, Service>();
  const slices = new Map<string, EndpointSlice>();
  for (const o of objects) {
    if (o.kind === 'Pod') pods.set(o.metadata.name, o);
    if (o.kind === 'Service') services.set(o.metadata.name, o);
    if (o.kind === 'EndpointSlice') slices.set(o.metadata.name, o);
  }
  const reconcile = (): void => {
    for (const svc of services.values()) {
      const mine = [...slices.values()].filter(
        (s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc.metadata.name,
      );
      const plan = planEndpointSlices(svc, pods.values(), mine);
      for (const s of plan.delete) {
        slices.delete(s.metadata.name);
        index.remove('EndpointSlice', s.metadata.namespace, s.metadata.name);
      }
      for (const s of [...plan.create, ...plan.update]) {
        slices.set(s.metadata.name, s);
        index.apply(s);
      }
    }
  };
  return {
    applyPod(pod: Pod): void {
      pods.set(pod.metadata.name, pod);
      reconcile();
    },
    removePod(name: string): void {
      pods.delete(name);
      reconcile();
    },
  };
}

export function fixtureObjects(): KubeObject[] {
  return withSlices([
    namespace('my-namespace'),
    namespace('empty-ns'),
    service('my-namespace', 'my-svc', {
      type: 'ClusterIP',
      clusterIP: '10.96.0.20',
      selector: { app: 'web' },
      ports: [
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 'web' },
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 },
        { protocol: 'TCP', port: 9999 },
      ],
    }),
    service('my-namespace', 'db', {
      clusterIP: 'None',
      selector: { app: 'db' },
      ports: [{ name: 'pg', protocol: 'TCP', port: 5432, targetPort: 'web' }],
    }),
    service('my-namespace', 'nothing-ready', { clusterIP: 'None', selector: { app: 'none' } }),
    service('my-namespace', 'ext', { type: 'ExternalName', externalName: 'db.example.org' }),
    pod('my-namespace', 'web-1', '10.244.1.5', { app: 'web' }),
    pod(
      'my-namespace',
      'db-0',
      '10.244.1.10',
      { app: 'db' },
      {
        hostname: 'db-0',
        subdomain: 'db',
        port: 5433,
      },
    ),
    pod('my-namespace', 'db-x', '10.244.2.7', { app: 'db' }, { hostname: 'other', subdomain: 'x' }),
    pod('my-namespace', 'db-down', '10.244.2.8', { app: 'db' }, { ready: false }),
    pod('my-namespace', 'none-1', '10.244.2.9', { app: 'none' }, { ready: false }),
  ]);
}
