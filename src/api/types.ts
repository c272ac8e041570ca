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
  /** providerID: the node's machine in its cloud, e.g. `aws:///eu-west-1a/i-0abc`. */
  spec: { podCIDR?: string; podCIDRs?: string[]; providerID?: string };
  status?: { addresses?: NodeAddress[]; conditions?: NodeCondition[] };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: Protocol;
}

/** A port by number, or by the name of one of the container's ports. */
export type ProbePort = number | string;

/**
 * When a container may serve: one handler (an HTTP GET answered 200-399, a TCP connection
 * accepted, a command exiting 0) and kubelet's timing fields, in seconds.
 */
export interface Probe {
  httpGet?: { path?: string; port: ProbePort; host?: string; scheme?: 'HTTP' | 'HTTPS' };
  tcpSocket?: { port: ProbePort; host?: string };
  exec?: { command: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: ContainerPort[];
  readinessProbe?: Probe;
  lifecycle?: Lifecycle;
}

/**
 * Hooks around a container's life. The pod runners act on preStop's sleep (Kubernetes 1.30's
 * PodLifecycleSleepAction): a deleted pod keeps running that long, so every host's proxy takes
 * it out of its services before it stops answering. Other handlers are kept as given.
 */
export interface Lifecycle {
  preStop?: { sleep?: { seconds: number } };
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

/** One of a container's states, as Kubernetes reports them (exactly one is set). */
export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    exitCode: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
  };
}

export interface ContainerStatus {
  name: string;
  image?: string;
  imageID?: string;
  state: ContainerState;
  lastState?: ContainerState;
  ready: boolean;
  restartCount: number;
  started?: boolean;
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
    /** Why the pod is in its phase, for people (`reason` is one CamelCase word). */
    reason?: string;
    message?: string;
    conditions?: PodCondition[];
    containerStatuses?: ContainerStatus[];
  };
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

/** Kubernetes' names of the address families (Service ipFamilies, EndpointSlice addressType). */
export type IPFamily = 'IPv4' | 'IPv6';
/** How many families a service asks for: one, both when the cluster has both, or both. */
export type IPFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

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
    /** One address per family, in the order of ipFamilies; `clusterIP` is the first. */
    clusterIPs?: string[];
    ipFamilies?: IPFamily[];
    ipFamilyPolicy?: IPFamilyPolicy;
    ports?: ServicePort[];
    selector?: Record<string, string>;
    sessionAffinity?: 'None' | 'ClientIP';
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    externalName?: string;
  };
}

export type Backend = 'host-gw' | 'vxlan' | 'ipip' | 'auto' | 'cloud' | 'wireguard';
/** Encryption of pod traffic between hosts, on top of any backend. */
export type Encryption = 'wireguard';
/** The tunnel backend `auto` reaches peers that are not on-link through. */
export type AutoTunnel = 'vxlan' | 'ipip';
export type ProxyMode = 'iptables' | 'nftables';
/** How pod packets cross the host: its forwarding path, or tc BPF programs beside it. */
export type Datapath = 'kernel' | 'ebpf';
export type RoutingMode = 'store' | 'bgp';

/** podnet's own cluster-wide network settings (one object, named `default`). */
export interface ClusterNetwork extends TypeMeta {
  apiVersion: 'podnet.io/v1';
  kind: 'ClusterNetwork';
  metadata: ObjectMeta;
  spec: {
    /** The pod network; always `clusterCIDRs[0]` when that list is given. */
    clusterCIDR: string;
    /** The pod network per family (at most one each, IPv4 first): dual-stack when two. */
    clusterCIDRs?: string[];
    /** The IPv4 node subnet size (a node leases one /nodeSubnetPrefix of the IPv4 clusterCIDR). */
    nodeSubnetPrefix: number;
    /** The IPv6 node subnet size (default 64). */
    nodeSubnetPrefixIPv6?: number;
    /** The service network; always `serviceCIDRs[0]` when that list is given. */
    serviceCIDR: string;
    /** The service network per family (at most one each, IPv4 first). */
    serviceCIDRs?: string[];
    /** The cluster DNS service's address; always `dnsIPs[0]` when that list is given. */
    dnsIP: string;
    /** The cluster DNS service's address per service family. */
    dnsIPs?: string[];
    domain: string;
    backend: Backend;
    proxyMode: ProxyMode;
    routing: RoutingMode;
    /** Underlay MTU; tunnel MTUs derive from it. */
    mtu: number;
    /** `wireguard`: traffic to every peer goes through WireGuard, however the backend reaches it. */
    encryption?: Encryption;
    /**
     * What `backend: auto` tunnels through to peers that are not on-link (default vxlan; ipip
     * as Calico's CrossSubnet IP-in-IP mode). Other backends ignore it.
     */
    autoTunnel?: AutoTunnel;
    /**
     * `ebpf`: tc programs move TCP between pods on this host and host-gw peers past the host's
     * forwarding path; whatever netfilter must see keeps the kernel path (default `kernel`).
     */
    datapath?: Datapath;
    /** BGP settings when `routing: bgp` (all optional; defaults in src/bgp/cluster.ts). */
    bgp?: BGPSettings;
    /** The cloud's route tables when `backend: cloud`. */
    cloud?: CloudSettings;
    /** What pods may reach of the hosts (podnet's control ports are closed to them). */
    hostProtection?: HostProtection;
  };
}

/** Host protection settings of the node guard. */
export interface HostProtection {
  /** Control ports opened to pods on purpose (TCP and UDP), e.g. 6443 for in-cluster clients. */
  allowPorts?: number[];
}

/** What a node that does not fit in the route tables gets: nothing, or VXLAN to every peer. */
export type CloudOverflow = 'refuse' | 'vxlan';

/** routed: the cloud's route tables carry its subnet; overflow: peers use VXLAN; refused: neither. */
export type CloudPlacement = 'routed' | 'overflow' | 'refused';

/** Where `backend: cloud` writes one route per node (AWS VPC route tables). */
export interface CloudSettings {
  provider: 'aws';
  /** Every route table that serves a node subnet: each needs every node's route. */
  routeTableIDs: string[];
  region: string;
  /** The EC2 API endpoint (default: the region's own). */
  endpoint?: string;
  /** The instance metadata service (default http://169.254.169.254). */
  metadataEndpoint?: string;
  /** Routes one table may hold, the account's quota (default 500, AWS's ceiling 1,000). */
  routeLimit?: number;
  /** What nodes past the quota get (default refuse). */
  overflow?: CloudOverflow;
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
    /**
     * Sign the sessions with TCP-MD5 (RFC 2385) using the key in this file on each node (one
     * line, 1 to 80 bytes), as the router's own `password`. A path and not the key: objects
     * are readable by every agent and shown by `get`, the key must not be. The file can be a
     * Kubernetes Secret mounted into the agent's pod. Nodes re-read it while running.
     */
    passwordFile?: string;
  };
}

/**
 * A node's heartbeat (`coordination.k8s.io/v1`, namespace `kube-node-lease`, named after the
 * node), renewed by its agent as kubelet renews its own: a node whose Lease stops being renewed
 * for longer than `leaseDurationSeconds` has a dead agent.
 */
export interface Lease extends TypeMeta {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: ObjectMeta;
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    /** RFC 3339 with microseconds, as Kubernetes writes MicroTime. */
    renewTime?: string;
    acquireTime?: string;
  };
}

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** The Ready condition's reason and message on a node whose agent stopped renewing its Lease. */
export const NODE_STATUS_UNKNOWN = 'NodeStatusUnknown';
export const AGENT_STOPPED = 'agent stopped posting status';

/** Which object an endpoint or binding points at (Kubernetes' ObjectReference, the fields used). */
export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
}

/** One address behind a service in the legacy Endpoints shape. */
export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: ObjectReference;
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol?: Protocol;
  appProtocol?: string;
}

/**
 * The legacy (core v1) list of a service's endpoints: addresses that share the same resolved
 * ports form one subset. Written beside the slices for clients that still read it.
 */
export interface Endpoints extends TypeMeta {
  kind: 'Endpoints';
  metadata: ObjectMeta;
  subsets?: {
    addresses?: EndpointAddress[];
    notReadyAddresses?: EndpointAddress[];
    ports?: EndpointPort[];
  }[];
}

/**
 * An endpoint's state as kube-proxy reads it. Absent `ready` and `serving` mean true, absent
 * `terminating` means false (a hand-written slice usually says nothing).
 */
export interface EndpointConditions {
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export interface SliceEndpoint {
  /** The first address is the one consumers use (Kubernetes allows more, all equivalent). */
  addresses: string[];
  conditions?: EndpointConditions;
  hostname?: string;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
  hints?: { forZones?: { name: string }[] };
}

export interface SlicePort {
  name?: string;
  protocol?: Protocol;
  port?: number;
  appProtocol?: string;
}

export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';

/** A slice of a service's endpoints (discovery.k8s.io/v1), what kube-proxy and DNS read. */
export interface EndpointSlice extends TypeMeta {
  kind: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: AddressType;
  endpoints: SliceEndpoint[];
  ports?: SlicePort[];
}

/** An identity for processes in pods; stored only (tokens come with the API server). */
export interface ServiceAccount extends TypeMeta {
  kind: 'ServiceAccount';
  metadata: ObjectMeta;
  secrets?: ObjectReference[];
  imagePullSecrets?: { name?: string }[];
  automountServiceAccountToken?: boolean;
}

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface Role extends TypeMeta {
  kind: 'Role';
  metadata: ObjectMeta;
  rules?: PolicyRule[];
}

export interface ClusterRole extends TypeMeta {
  kind: 'ClusterRole';
  metadata: ObjectMeta;
  rules?: PolicyRule[];
}

export interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface RoleRef {
  apiGroup: 'rbac.authorization.k8s.io';
  kind: 'Role' | 'ClusterRole';
  name: string;
}

export interface RoleBinding extends TypeMeta {
  kind: 'RoleBinding';
  metadata: ObjectMeta;
  subjects?: Subject[];
  roleRef: RoleRef;
}

export interface ClusterRoleBinding extends TypeMeta {
  kind: 'ClusterRoleBinding';
  metadata: ObjectMeta;
  subjects?: Subject[];
  roleRef: RoleRef;
}

/** One requirement of a label selector (`key In (a, b)`, `key Exists`, ...). */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** Kubernetes' LabelSelector: every matchLabels pair AND every expression; `{}` selects all. */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type PolicyType = 'Ingress' | 'Egress';

/** Addresses a rule admits: `cidr` minus each `except`. */
export interface IPBlock {
  cidr: string;
  except?: string[];
}

/** Who a rule admits: an ipBlock, or pod and/or namespace selectors (both given: AND). */
export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: IPBlock;
}

export interface NetworkPolicyPort {
  /** Defaulted to TCP at admission. */
  protocol?: Protocol;
  /** A number, or a container port name resolved on the destination pod. */
  port?: number | string;
  /** With a numeric `port`: the last port of an inclusive range. */
  endPort?: number;
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[];
  ports?: NetworkPolicyPort[];
}

/** networking.k8s.io/v1 NetworkPolicy: what the selected pods of its namespace may exchange. */
export interface NetworkPolicy extends TypeMeta {
  kind: 'NetworkPolicy';
  metadata: ObjectMeta;
  spec: {
    /** Defaulted to `{}` (every pod of the namespace) at admission. */
    podSelector?: LabelSelector;
    /** Defaulted at admission as the Kubernetes API server does (see validate.ts). */
    policyTypes?: PolicyType[];
    ingress?: NetworkPolicyIngressRule[];
    egress?: NetworkPolicyEgressRule[];
  };
}

/** Pods by their namespace's labels and their own (both required; `{}` selects all). */
export interface NamespacedPod {
  namespaceSelector: LabelSelector;
  podSelector: LabelSelector;
}

/** Whom an admin policy applies to, or a peer of one of its rules: exactly one field given. */
export interface AdminNetworkPolicyPeer {
  namespaces?: LabelSelector;
  pods?: NamespacedPod;
  /** Egress peers only: CIDRs (inside or outside the cluster). */
  networks?: string[];
}

/** Exactly one field given; protocols default to TCP. A named port keeps its container's protocol. */
export interface AdminNetworkPolicyPort {
  portNumber?: { protocol: Protocol; port: number };
  portRange?: { protocol: Protocol; start: number; end: number };
  namedPort?: string;
}

export type AdminNetworkPolicyAction = 'Allow' | 'Deny' | 'Pass';

export interface AdminNetworkPolicyIngressRule {
  name?: string;
  action: AdminNetworkPolicyAction;
  from: AdminNetworkPolicyPeer[];
  ports?: AdminNetworkPolicyPort[];
}

export interface AdminNetworkPolicyEgressRule {
  name?: string;
  action: AdminNetworkPolicyAction;
  to: AdminNetworkPolicyPeer[];
  ports?: AdminNetworkPolicyPort[];
}

/**
 * policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy: a cluster administrator's rules, judged
 * before NetworkPolicy, lowest priority first; the first rule that matches decides (Pass hands
 * the connection to NetworkPolicy).
 */
export interface AdminNetworkPolicy extends TypeMeta {
  kind: 'AdminNetworkPolicy';
  metadata: ObjectMeta;
  spec: {
    /** 0-1000, lower first. */
    priority: number;
    subject: AdminNetworkPolicyPeer;
    ingress?: AdminNetworkPolicyIngressRule[];
    egress?: AdminNetworkPolicyEgressRule[];
  };
}

/**
 * policy.networking.k8s.io/v1alpha1 BaselineAdminNetworkPolicy (one, named `default`): rules
 * (Allow or Deny) for the pods no NetworkPolicy selects in that direction.
 */
export interface BaselineAdminNetworkPolicy extends TypeMeta {
  kind: 'BaselineAdminNetworkPolicy';
  metadata: ObjectMeta;
  spec: {
    subject: AdminNetworkPolicyPeer;
    ingress?: AdminNetworkPolicyIngressRule[];
    egress?: AdminNetworkPolicyEgressRule[];
  };
}

export type KubeObject =
  | Namespace
  | Node
  | Pod
  | Service
  | Endpoints
  | EndpointSlice
  | ServiceAccount
  | Role
  | ClusterRole
  | RoleBinding
  | ClusterRoleBinding
  | ClusterNetwork
  | BGPPeer
  | Lease
  | NetworkPolicy
  | AdminNetworkPolicy
  | BaselineAdminNetworkPolicy;
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
/**
 * The pod subnet podnet leased for a node on a Kubernetes cluster whose node IPAM left
 * spec.podCIDR unset: that field can be set only once and belongs to kube-controller-manager.
 */
export const ANNOTATION_POD_CIDR = 'podnet.io/pod-cidr';
/** The underlay address the node's agent routes over (kubelet owns status.addresses there). */
export const ANNOTATION_NODE_IP = 'podnet.io/node-ip';
/** How the cloud route controller placed a node: routed, overflow (VXLAN) or refused. */
export const ANNOTATION_CLOUD_ROUTE = 'podnet.io/cloud-route';
/** The node's network interface in the cloud (e.g. eni-0abc), as its agent learnt it. */
export const ANNOTATION_CLOUD_INTERFACE = 'podnet.io/cloud-interface';
/** Whether the node's cloud interface still drops foreign addresses (on) or forwards (off). */
export const ANNOTATION_CLOUD_SOURCE_DEST_CHECK = 'podnet.io/cloud-source-dest-check';
/** The public key of a node's WireGuard device (its private key never leaves the node). */
export const ANNOTATION_WIREGUARD_KEY = 'podnet.io/wireguard-public-key';
/** Set by `podnet wireguard rotate`: the node's agent makes a new key when this value changes. */
export const ANNOTATION_WIREGUARD_ROTATE = 'podnet.io/wireguard-rotate';

/** The node port range Kubernetes uses by default (`--service-node-port-range`). */
export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;
/** Nodes with this label (any value but "false") are BGP route reflectors. */
export const LABEL_ROUTE_REFLECTOR = 'podnet.io/route-reflector';

/** The Service an EndpointSlice belongs to (how kube-proxy finds a service's slices). */
export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
/** Who writes an EndpointSlice; podnet's controller leaves slices managed by others alone. */
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller.podnet.io';
/** On a Service or slice: another proxy implementation handles it (kube-proxy skips it). */
export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
/** On the slices of a headless service: nothing to proxy (kube-proxy skips them). */
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
