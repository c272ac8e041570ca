// The objects proxy tests program rules from: Services selecting pods labelled app=web (one
// address, or one per family), and running pods behind them that serve a port named http on
// 8080, ready or not.
import type { Pod, Service, ServicePort } from '../../src/api/types.js';

export function webService(
  namespace: string,
  ports: ServicePort[],
  { name = 'web', clusterIP = '10.96.0.20' } = {},
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: { clusterIP, selector: { app: 'web' }, ports },
  };
}

/**
 * The dual-stack web service: a NodePort service that requires both families, with one cluster
 * IP per family, IPv4 first.
 */
export function dualStackWebService(
  namespace: string,
  ports: ServicePort[],
  {
    name = 'web',
    clusterIPs = ['10.96.0.20', 'fd00:10:96::20'],
    selector = { app: 'web' },
  }: { name?: string; clusterIPs?: string[]; selector?: Record<string, string> } = {},
): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace },
    spec: {
      type: 'NodePort',
      clusterIP: clusterIPs[0],
      clusterIPs,
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      selector,
      ports,
    },
  };
}

export function webPod(
  namespace: string,
  name: string,
  ip: string,
  ready: boolean,
  {
    labels = { app: 'web' },
    nodeName,
  }: { labels?: Record<string, string>; nodeName?: string } = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}
