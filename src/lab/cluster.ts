// The lab's cluster-wide objects: the `default` ClusterNetwork that carries the lab's choices
// (backend, proxy, routing, the pod network's families) to every agent. With a fabric router, nodes peer only with it.
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
      ...(options.ipFamily === 'dual' ? DUAL_STACK_PODS : {}),
    },
  };
}

/**
 * A dual-stack lab's pod network: a ULA /56 beside the IPv4 one, a /64 per node. Services
 * stay on their IPv4 range here.
 */
const DUAL_STACK_PODS = {
  clusterCIDRs: [DEFAULT_CLUSTER_NETWORK.clusterCIDR, 'fd00:10:244::/56'],
  nodeSubnetPrefixIPv6: 64,
};
