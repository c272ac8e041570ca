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
      ...(options.ipFamily === 'dual' ? DUAL_STACK_NETWORKS : {}),
      ...(options.ipFamily === 'ipv6' ? IPV6_ONLY_NETWORKS : {}),
    },
  };
}

const POD_NETWORK_IPV6 = 'fd00:10:244::/56';
const SERVICE_NETWORK_IPV6 = 'fd00:10:96::/112';
const DNS_IP_IPV6 = 'fd00:10:96::a';

/**
 * A dual-stack lab's networks: a ULA /56 for pods beside the IPv4 one, a /64 per node, and a
 * ULA service range beside 10.96.0.0/16 (the cluster DNS takes its tenth address, fd00:10:96::a).
 */
const DUAL_STACK_NETWORKS = {
  clusterCIDRs: [DEFAULT_CLUSTER_NETWORK.clusterCIDR, POD_NETWORK_IPV6],
  nodeSubnetPrefixIPv6: 64,
  serviceCIDRs: [DEFAULT_CLUSTER_NETWORK.serviceCIDR, SERVICE_NETWORK_IPV6],
  dnsIPs: [DEFAULT_CLUSTER_NETWORK.dnsIP, DNS_IP_IPV6],
};

/** An IPv6-only lab's networks: the dual-stack lab's IPv6 ones alone, in the singular fields too. */
const IPV6_ONLY_NETWORKS = {
  clusterCIDR: POD_NETWORK_IPV6,
  clusterCIDRs: [POD_NETWORK_IPV6],
  nodeSubnetPrefixIPv6: 64,
  serviceCIDR: SERVICE_NETWORK_IPV6,
  serviceCIDRs: [SERVICE_NETWORK_IPV6],
  dnsIP: DNS_IP_IPV6,
  dnsIPs: [DNS_IP_IPV6],
};
