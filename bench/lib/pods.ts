// The pod the store and API server benchmarks write by the thousand (kept out of bench/ itself,
// where every module is a benchmark `make bench` runs): the shape of a typical Deployment's pod,
// spread over 20 nodes and 50 apps by its index.
import type { Pod } from '../../src/api/types.js';

export function benchPod(namespace: string, name: string, i: number): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { app: `app-${i % 50}` } },
    spec: {
      nodeName: `node-${i % 20}`,
      containers: [
        {
          name: 'app',
          image: 'registry.example/app:1.0',
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
        },
      ],
    },
    status: { phase: 'Running', podIP: `10.244.${i % 20}.${(i % 250) + 2}` },
  };
}
