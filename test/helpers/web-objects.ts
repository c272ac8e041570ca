// The objects proxy tests program rules from: Services selecting pods labelled app=web, and
// running pods behind them that serve a port named http on 8080, ready or not.
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
