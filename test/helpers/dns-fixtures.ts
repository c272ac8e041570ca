// Cluster objects for DNS tests: a ClusterIP service with named and unnamed ports, a headless
// service with named and unnamed pods (one not ready), an ExternalName service.
import type { KubeObject, Namespace, Pod, Service } from '../../src/api/types.js';

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

export function fixtureObjects(): KubeObject[] {
  return [
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
  ];
}
