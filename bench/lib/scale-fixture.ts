// The simulated part of a large cluster, written straight into the store: Nodes that no agent
// runs (each with a pod subnet, an underlay address and a VTEP MAC, in a zone of their own so
// that the real hosts reach them over VXLAN), Pods at up to 110 per node, and Services that
// select them. Real agents on the lab's hosts program every simulated node and service as if
// the cluster were that big; nothing answers on the simulated addresses, and nothing needs to.
//
// Addresses: simulated pod subnets are /24s counted up from 10.128.0.0 (SIM_POD_RANGE holds
// 16,384 of them), outside the lab's own 10.244.0.0/16 (room for only 256 nodes) and outside
// the service range; simulated
// underlay addresses are counted up from 172.30.0.0. Cluster IPs are counted up from
// 10.96.16.0, above the addresses admission hands out in a lab.
import type { Node, Pod, Service } from '../../src/api/types.js';
import { ANNOTATION_VTEP_MAC, LABEL_ZONE } from '../../src/api/types.js';

export const SIM_NAMESPACE = 'scale';
export const SIM_ZONE = 'zone-sim';
export const SIM_POD_RANGE = '10.128.0.0/10';
/** Kubernetes' published limit, and the spread the fixture uses. */
export const PODS_PER_NODE = 110;

function dotted(base: number, offset: number): string {
  const n = (base + offset) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const POD_SUBNETS = (10 << 24) | (128 << 16);
const UNDERLAY = (172 << 24) | (30 << 16);
const CLUSTER_IPS = (10 << 24) | (96 << 16) | (16 << 8);

export function simNodeName(i: number): string {
  return `sim-${String(i).padStart(5, '0')}`;
}

export function simPodCIDR(i: number): string {
  return `${dotted(POD_SUBNETS, i * 256)}/24`;
}

export function simNodeIP(i: number): string {
  return dotted(UNDERLAY, i + 1);
}

/** Locally administered, and unique per node: 0e:5c + the node's index. */
export function simVtepMac(i: number): string {
  const bytes = [(i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255];
  return ['0e', '5c', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export function simNode(i: number): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: simNodeName(i),
      labels: { [LABEL_ZONE]: SIM_ZONE, 'kubernetes.io/hostname': simNodeName(i) },
      annotations: { [ANNOTATION_VTEP_MAC]: simVtepMac(i) },
    },
    spec: { podCIDR: simPodCIDR(i) },
    status: {
      addresses: [{ type: 'InternalIP', address: simNodeIP(i) }],
      // Unknown from the start: no agent renews their Leases, and this keeps the live agents'
      // node-lifecycle check from marking thousands of them one by one during the run.
      conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Simulated' }],
    },
  };
}

/** Pods fill nodes in order, `podsPerNode` each; pod `i` selects service `i % services`. */
export function simPod(i: number, podsPerNode: number, services: number): Pod {
  const node = Math.floor(i / podsPerNode);
  const slot = (i % podsPerNode) + 2;
  const ip = dotted(POD_SUBNETS, node * 256 + slot);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `pod-${String(i).padStart(6, '0')}`,
      namespace: SIM_NAMESPACE,
      labels: { app: simServiceName(i % services) },
    },
    spec: {
      nodeName: simNodeName(node),
      containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

export function simServiceName(i: number): string {
  return `svc-${String(i).padStart(5, '0')}`;
}

export function simClusterIP(i: number): string {
  return dotted(CLUSTER_IPS, i);
}

export function simService(i: number): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: simServiceName(i), namespace: SIM_NAMESPACE },
    spec: {
      selector: { app: simServiceName(i) },
      clusterIP: simClusterIP(i),
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    },
  };
}
