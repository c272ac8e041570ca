// The lab's cluster-wide objects: the `default` ClusterNetwork that carries the lab's choices
// (backend, proxy, routing) to every agent. With a fabric router, nodes peer only with it.
import { DEFAULT_CLUSTER_NETWORK, type CloudSettings, type ClusterNetwork } from '../api/types.js';
import type { LabOptions } from './plan.js';

export function clusterNetworkFor(options: LabOptions, cloud?: CloudSettings): ClusterNetwork {
  return {
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: {
      ...DEFAULT_CLUSTER_NETWORK,
      backend: options.backend,
      proxyMode: options.proxy,
      routing: options.routing,
      ...(options.encryption ? { encryption: options.encryption } : {}),
      ...(options.fabric !== 'none' ? { bgp: { nodeToNodeMesh: false } } : {}),
      ...(cloud ? { cloud } : {}),
    },
  };
}
