// Object kinds, in the shape Kubernetes v1 uses so real manifests apply unchanged.
// Only the fields podnet reads are typed; unknown fields are kept by the store as they came.

export interface ObjectMeta {
  name: string;
  /** A prefix the API server completes into a unique name when `name` is not given. */
  generateName?: string;
  /** Counts changes to the spec (set by the API server; status writes leave it alone). */
  generation?: number;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  /** The store revision of the last change, as a decimal string (Kubernetes' resourceVersion). */
  resourceVersion?: string;
  /** Set when deletion has begun: the object goes once what holds it (a node, its contents) lets go. */
  deletionTimestamp?: string;
  /** Seconds the holder was given to let go (a pod's graceful termination). */
  deletionGracePeriodSeconds?: number;
}

export interface TypeMeta {
  apiVersion: string;
  kind: string;
}

export interface Namespace extends TypeMeta {
  kind: 'Namespace';
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: { phase?: string };
}

export interface NodeAddress {
  type: 'InternalIP' | 'ExternalIP' | 'Hostname';
  address: string;
}

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface Node extends TypeMeta {
  kind: 'Node';
  metadata: ObjectMeta;
  spec: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: NodeAddress[]; conditions?: NodeCondition[] };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: ContainerPort[];
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
}

export interface Pod extends TypeMeta {
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: {
    nodeName?: string;
    hostname?: string;
    subdomain?: string;
    containers: Container[];
  };
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    podIP?: string;
    podIPs?: { ip: string }[];
    hostIP?: string;
    conditions?: PodCondition[];
  };
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort {
  name?: string;
  protocol?: Protocol;
  port: number;
  /** A number, or the name of a container port resolved per pod. */
  targetPort?: number | string;
  nodePort?: number;
}

export interface Service extends TypeMeta {
  kind: 'Service';
  metadata: ObjectMeta;
  spec: {
    type?: 'ClusterIP' | 'NodePort' | 'ExternalName';
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: ServicePort[];
    selector?: Record<string, string>;
    sessionAffinity?: 'None' | 'ClientIP';
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    externalName?: string;
  };
}

export type Backend = 'host-gw' | 'vxlan' | 'ipip' | 'auto';
export type ProxyMode = 'iptables' | 'nftables';
export type RoutingMode = 'store' | 'bgp';

/** podnet's own cluster-wide network settings (one object, named `default`). */
export interface ClusterNetwork extends TypeMeta {
  apiVersion: 'podnet.io/v1';
  kind: 'ClusterNetwork';
  metadata: ObjectMeta;
  spec: {
    clusterCIDR: string;
    nodeSubnetPrefix: number;
    serviceCIDR: string;
    dnsIP: string;
    domain: string;
    backend: Backend;
    proxyMode: ProxyMode;
    routing: RoutingMode;
    /** Underlay MTU; tunnel MTUs derive from it. */
    mtu: number;
    /** BGP settings when `routing: bgp` (all optional; defaults in src/bgp/cluster.ts). */
    bgp?: BGPSettings;
  };
}

/** The cluster's BGP speaker settings. */
export interface BGPSettings {
  /** The nodes' AS (default 64512, a full iBGP mesh). */
  asNumber?: number;
  holdTime?: number;
  /** Seconds peers keep a restarting node's routes (default 120). */
  gracefulRestartTime?: number;
  /**
   * Whether nodes peer with each other (default true). Turn it off when every node peers with
   * a router instead (BGPPeer objects), as in the top-of-rack design, or with route reflectors.
   */
  nodeToNodeMesh?: boolean;
}

/** A BGP router outside the cluster that matching nodes peer with (Calico's BGPPeer idea). */
export interface BGPPeer extends TypeMeta {
  apiVersion: 'podnet.io/v1';
  kind: 'BGPPeer';
  metadata: ObjectMeta;
  spec: {
    peerIP: string;
    asNumber: number;
    /** Labels a Node must have to peer with this router; absent or empty: every node. */
    nodeSelector?: Record<string, string>;
  };
}

export type KubeObject = Namespace | Node | Pod | Service | ClusterNetwork | BGPPeer;
export type Kind = KubeObject['kind'];

export const DEFAULT_CLUSTER_NETWORK: ClusterNetwork['spec'] = {
  clusterCIDR: '10.244.0.0/16',
  nodeSubnetPrefix: 24,
  serviceCIDR: '10.96.0.0/16',
  dnsIP: '10.96.0.10',
  domain: 'cluster.local',
  backend: 'auto',
  proxyMode: 'iptables',
  routing: 'store',
  mtu: 1500,
};

/** Well-known labels (Kubernetes' own, and podnet.io/ for podnet's: docs/conventions.md). */
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const ANNOTATION_VTEP_MAC = 'podnet.io/vtep-mac';

/** The node port range Kubernetes uses by default (`--service-node-port-range`). */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;
/** Nodes with this label (any value but "false") are BGP route reflectors. */
export const LABEL_ROUTE_REFLECTOR = 'podnet.io/route-reflector';
