// Schemas for the kinds podnet stores, checked against src/api/types.ts (the one source of the
// TypeScript types). Objects are strict so that unknown fields show up as `unrecognized_keys`
// issues, which validate.ts turns into warnings and keeps; every other issue is an error.
import { z } from 'zod';
import { isIP, isIPv4, tryParseCidr } from '../net/index.js';
import type {
  AdminNetworkPolicy,
  BaselineAdminNetworkPolicy,
  BGPPeer,
  ClusterNetwork,
  ClusterRole,
  ClusterRoleBinding,
  EndpointSlice,
  Lease,
  Endpoints,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
  Role,
  RoleBinding,
  Service,
  ServiceAccount,
} from './types.js';
import { NODE_PORT_RANGE } from './types.js';

// DNS-1123 label (namespaces, service names, host names) and subdomain (most object names).
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// IANA service name, the rule for container port names.
const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const dnsLabel = z.string().regex(DNS_LABEL, {
  error: 'must be a DNS label (lower-case letters, digits and "-", at most 63 characters)',
});
const dnsSubdomain = z.string().regex(DNS_SUBDOMAIN, {
  error: 'must be a DNS name (lower-case letters, digits, "-" and ".")',
});
const portName = z.string().regex(PORT_NAME, {
  error: 'must be a port name (lower-case letters, digits and "-", at most 15, one letter)',
});
const portNumber = z
  .number()
  .int({ error: 'must be a whole number' })
  .min(1, { error: 'must be 1-65535' })
  .max(65535, { error: 'must be 1-65535' });
const ipv4 = z.string().refine(isIPv4, {
  error: 'must be an IPv4 address like 10.96.0.10',
});
const anyIP = z.string().refine(isIP, {
  error: 'must be an IPv4 or IPv6 address like 10.96.0.10 or fd00:96::a',
});
const anyCidr = z.string().refine((s) => tryParseCidr(s) !== undefined, {
  error:
    'must be an IPv4 or IPv6 network like 10.244.0.0/16 or fd00:10:244::/56 (address bits past the prefix zero)',
});
/** One entry per address family at most, so never more than two. */
const perFamily = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .min(1, { error: 'must list one or two entries (one per family)' })
    .max(2, { error: 'must list at most one entry per family (two)' });
const httpURL = z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
  error: 'must be an http or https URL like http://127.0.0.1:5000',
});
const stringMap = z.record(z.string(), z.string({ error: 'must be a string (quote it)' }));
const protocol = z.enum(['TCP', 'UDP', 'SCTP']);
const conditionStatus = z.enum(['True', 'False', 'Unknown']);
/** A node's or pod's status condition (a node's also says when it last changed). */
const condition = z.strictObject({
  type: z.string(),
  status: conditionStatus,
  reason: z.string().optional(),
  message: z.string().optional(),
});

export const objectMetaSchema = z.strictObject({
  name: dnsSubdomain,
  generateName: z.string().optional(),
  generation: z.number().int().min(1).optional(),
  namespace: dnsLabel.optional(),
  uid: z.string().optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  creationTimestamp: z.string().optional(),
  resourceVersion: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  deletionGracePeriodSeconds: z.number().int().min(0).optional(),
});

export const namespaceSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: objectMetaSchema.extend({ name: dnsLabel }),
  spec: z.record(z.string(), z.unknown()).optional(),
  status: z.strictObject({ phase: z.string().optional() }).optional(),
});

export const nodeSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Node'),
  metadata: objectMetaSchema,
  spec: z.strictObject({
    podCIDR: anyCidr.optional(),
    podCIDRs: perFamily(anyCidr).optional(),
    providerID: z.string().optional(),
  }),
  status: z
    .strictObject({
      addresses: z
        .array(
          z
            .strictObject({
              type: z.enum(['InternalIP', 'ExternalIP', 'Hostname']),
              address: z.string(),
            })
            .refine((a) => a.type === 'Hostname' || isIPv4(a.address), {
              path: ['address'],
              error: 'must be an IPv4 address for InternalIP and ExternalIP',
            }),
        )
        .optional(),
      conditions: z
        .array(condition.extend({ lastTransitionTime: z.string().optional() }))
        .optional(),
    })
    .optional(),
});

const wholeAtLeast = (least: number) =>
  z
    .number()
    .int({ error: 'must be a whole number' })
    .min(least, { error: `must be at least ${least}` })
    .optional();
const probePort = z.union([portNumber, portName]);
const probeSchema = z
  .strictObject({
    httpGet: z
      .strictObject({
        path: z.string().optional(),
        port: probePort,
        host: z.string().optional(),
        scheme: z.enum(['HTTP', 'HTTPS']).optional(),
      })
      .optional(),
    tcpSocket: z.strictObject({ port: probePort, host: z.string().optional() }).optional(),
    exec: z.strictObject({ command: z.array(z.string()).min(1) }).optional(),
    initialDelaySeconds: wholeAtLeast(0),
    periodSeconds: wholeAtLeast(1),
    timeoutSeconds: wholeAtLeast(1),
    successThreshold: wholeAtLeast(1),
    failureThreshold: wholeAtLeast(1),
  })
  .refine((p) => [p.httpGet, p.tcpSocket, p.exec].filter(Boolean).length <= 1, {
    error: 'may have only one handler: httpGet, tcpSocket or exec',
  });

const containerSchema = z.strictObject({
  name: dnsLabel,
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
  ports: z
    .array(
      z.strictObject({
        name: portName.optional(),
        containerPort: portNumber,
        protocol: protocol.optional(),
      }),
    )
    .optional(),
  readinessProbe: probeSchema.optional(),
  lifecycle: z
    .strictObject({
      preStop: z
        .strictObject({
          sleep: z
            .strictObject({
              seconds: z.number().int().min(0, { error: 'must be at least 0' }),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

const containerStateSchema = z.strictObject({
  waiting: z
    .strictObject({ reason: z.string().optional(), message: z.string().optional() })
    .optional(),
  running: z.strictObject({ startedAt: z.string().optional() }).optional(),
  terminated: z
    .strictObject({
      exitCode: z.number().int(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startedAt: z.string().optional(),
      finishedAt: z.string().optional(),
    })
    .optional(),
});

const containerStatusSchema = z.strictObject({
  name: dnsLabel,
  image: z.string().optional(),
  imageID: z.string().optional(),
  state: containerStateSchema,
  lastState: containerStateSchema.optional(),
  ready: z.boolean(),
  restartCount: z.number().int().min(0),
  started: z.boolean().optional(),
});

export const podSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Pod'),
  metadata: objectMetaSchema,
  spec: z.strictObject({
    nodeName: z.string().optional(),
    hostname: dnsLabel.optional(),
    subdomain: dnsLabel.optional(),
    containers: z.array(containerSchema).min(1, { error: 'must list at least one container' }),
  }),
  status: z
    .strictObject({
      phase: z.enum(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']).optional(),
      podIP: anyIP.optional(),
      podIPs: perFamily(z.strictObject({ ip: anyIP })).optional(),
      hostIP: ipv4.optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      conditions: z.array(condition).optional(),
      containerStatuses: z.array(containerStatusSchema).optional(),
    })
    .optional(),
});

const servicePortSchema = z.strictObject({
  name: dnsLabel.optional(),
  protocol: protocol.optional(),
  port: portNumber,
  targetPort: z
    .union([portNumber, portName], {
      error: 'must be a port number 1-65535 or a container port name',
    })
    .optional(),
  nodePort: z
    .number()
    .int({ error: 'must be a whole number' })
    .min(NODE_PORT_RANGE.min, { error: `must be ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}` })
    .max(NODE_PORT_RANGE.max, { error: `must be ${NODE_PORT_RANGE.min}-${NODE_PORT_RANGE.max}` })
    .optional(),
});

const clusterIP = z.union([z.literal('None'), z.literal(''), anyIP], {
  error: 'must be an IPv4 or IPv6 address, "None" (headless) or empty',
});

export const serviceSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Service'),
  metadata: objectMetaSchema.extend({ name: dnsLabel }),
  spec: z.strictObject({
    type: z.enum(['ClusterIP', 'NodePort', 'ExternalName']).optional(),
    clusterIP: clusterIP.optional(),
    clusterIPs: z
      .array(clusterIP)
      .max(2, { error: 'must list at most one address per family (two)' })
      .optional(),
    ipFamilies: z
      .array(z.enum(['IPv4', 'IPv6']))
      .max(2, { error: 'must list at most two families' })
      .optional(),
    ipFamilyPolicy: z.enum(['SingleStack', 'PreferDualStack', 'RequireDualStack']).optional(),
    ports: z.array(servicePortSchema).optional(),
    selector: stringMap.optional(),
    sessionAffinity: z.enum(['None', 'ClientIP']).optional(),
    sessionAffinityConfig: z
      .strictObject({
        clientIP: z
          .strictObject({
            timeoutSeconds: z
              .number()
              .int()
              .min(1, { error: 'must be 1-86400' })
              .max(86400, { error: 'must be 1-86400' })
              .optional(),
          })
          .optional(),
      })
      .optional(),
    externalName: dnsSubdomain.optional(),
  }),
});

const objectReference = z.strictObject({
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
});

const endpointAddress = z.strictObject({
  ip: anyIP,
  hostname: dnsLabel.optional(),
  nodeName: z.string().optional(),
  targetRef: objectReference.optional(),
});

const endpointPort = z.strictObject({
  name: dnsLabel.optional(),
  port: portNumber,
  protocol: protocol.optional(),
  appProtocol: z.string().optional(),
});

export const endpointsSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Endpoints'),
  metadata: objectMetaSchema,
  subsets: z
    .array(
      z.strictObject({
        addresses: z.array(endpointAddress).optional(),
        notReadyAddresses: z.array(endpointAddress).optional(),
        ports: z.array(endpointPort).optional(),
      }),
    )
    .optional(),
});

const sliceEndpoint = z.strictObject({
  addresses: z
    .array(z.string())
    .min(1, { error: 'must list at least one address' })
    .max(100, { error: 'must list at most 100 addresses' }),
  conditions: z
    .strictObject({
      ready: z.boolean().optional(),
      serving: z.boolean().optional(),
      terminating: z.boolean().optional(),
    })
    .optional(),
  hostname: dnsLabel.optional(),
  targetRef: objectReference.optional(),
  nodeName: z.string().optional(),
  zone: z.string().optional(),
  hints: z
    .strictObject({ forZones: z.array(z.strictObject({ name: z.string() })).optional() })
    .optional(),
});

export const endpointSliceSchema = z.strictObject({
  apiVersion: z.literal('discovery.k8s.io/v1'),
  kind: z.literal('EndpointSlice'),
  metadata: objectMetaSchema,
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  endpoints: z.array(sliceEndpoint).max(1000, { error: 'must list at most 1000 endpoints' }),
  ports: z
    .array(
      z.strictObject({
        name: z.union([dnsLabel, z.literal('')]).optional(),
        protocol: protocol.optional(),
        port: portNumber.optional(),
        appProtocol: z.string().optional(),
      }),
    )
    .max(100, { error: 'must list at most 100 ports' })
    .optional(),
});

export const serviceAccountSchema = z.strictObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('ServiceAccount'),
  metadata: objectMetaSchema,
  secrets: z.array(objectReference).optional(),
  imagePullSecrets: z.array(z.strictObject({ name: z.string().optional() })).optional(),
  automountServiceAccountToken: z.boolean().optional(),
});

// RBAC names may hold ':' (`system:node`): anything but '/', '%', '.' and '..' (a path segment).
const rbacName = z
  .string()
  .min(1, { error: 'is required' })
  .refine((s) => !/[/%]/.test(s) && s !== '.' && s !== '..', {
    error: 'must not contain "/" or "%", nor be "." or ".."',
  });
const rbacMeta = objectMetaSchema.extend({ name: rbacName });

const policyRule = z.strictObject({
  verbs: z.array(z.string()).min(1, { error: 'must list at least one verb' }),
  apiGroups: z.array(z.string()).optional(),
  resources: z.array(z.string()).optional(),
  resourceNames: z.array(z.string()).optional(),
  nonResourceURLs: z.array(z.string()).optional(),
});

const subject = z.strictObject({
  kind: z.enum(['User', 'Group', 'ServiceAccount']),
  name: z.string().min(1, { error: 'is required' }),
  namespace: z.string().optional(),
  apiGroup: z.string().optional(),
});

const roleRef = z.strictObject({
  apiGroup: z.literal('rbac.authorization.k8s.io'),
  kind: z.enum(['Role', 'ClusterRole']),
  name: rbacName,
});

/** Role and ClusterRole differ only in kind (and in where they apply, which is not their shape). */
const roleOf = <K extends 'Role' | 'ClusterRole'>(kind: K) =>
  z.strictObject({
    apiVersion: z.literal('rbac.authorization.k8s.io/v1'),
    kind: z.literal(kind),
    metadata: rbacMeta,
    rules: z.array(policyRule).optional(),
  });

/** Likewise RoleBinding and ClusterRoleBinding. */
const bindingOf = <K extends 'RoleBinding' | 'ClusterRoleBinding'>(kind: K) =>
  z.strictObject({
    apiVersion: z.literal('rbac.authorization.k8s.io/v1'),
    kind: z.literal(kind),
    metadata: rbacMeta,
    subjects: z.array(subject).optional(),
    roleRef,
  });

export const roleSchema = roleOf('Role');
export const clusterRoleSchema = roleOf('ClusterRole');
export const roleBindingSchema = bindingOf('RoleBinding');
export const clusterRoleBindingSchema = bindingOf('ClusterRoleBinding');

/** The manifest form: every spec field may be left out and comes from DEFAULT_CLUSTER_NETWORK. */
const cloudSettingsSchema = z.strictObject({
  provider: z.literal('aws', { error: 'must be "aws" (the only cloud podnet writes routes to)' }),
  routeTableIDs: z
    .array(
      z.string().regex(/^rtb-[0-9a-f]{1,17}$/, { error: 'must be a route table ID like rtb-0abc' }),
    )
    .min(1, { error: 'must list at least one route table ID' }),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: 'must be an AWS region like eu-west-1' }),
  endpoint: httpURL.optional(),
  metadataEndpoint: httpURL.optional(),
  routeLimit: z
    .number()
    .int()
    .min(1, { error: 'must be 1-1000 (AWS allows at most 1,000 routes per table)' })
    .max(1000, { error: 'must be 1-1000 (AWS allows at most 1,000 routes per table)' })
    .optional(),
  overflow: z.enum(['refuse', 'vxlan']).optional(),
});

export const clusterNetworkSchema = z.strictObject({
  apiVersion: z.literal('podnet.io/v1'),
  kind: z.literal('ClusterNetwork'),
  metadata: objectMetaSchema,
  spec: z
    .strictObject({
      clusterCIDR: anyCidr,
      clusterCIDRs: perFamily(anyCidr),
      nodeSubnetPrefix: z
        .number()
        .int()
        .min(8, { error: 'must be 8-30' })
        .max(30, { error: 'must be 8-30' }),
      nodeSubnetPrefixIPv6: z
        .number()
        .int()
        .min(16, { error: 'must be 16-126' })
        .max(126, { error: 'must be 16-126' }),
      serviceCIDR: anyCidr,
      serviceCIDRs: perFamily(anyCidr),
      dnsIP: anyIP,
      dnsIPs: perFamily(anyIP),
      domain: dnsSubdomain,
      backend: z.enum(['host-gw', 'vxlan', 'ipip', 'auto', 'cloud', 'wireguard']),
      cloud: cloudSettingsSchema,
      encryption: z.enum(['wireguard']),
      autoTunnel: z.enum(['vxlan', 'ipip']),
      datapath: z.enum(['kernel', 'ebpf']),
      proxyMode: z.enum(['iptables', 'nftables']),
      routing: z.enum(['store', 'bgp']),
      bgp: z
        .strictObject({
          asNumber: z.number().int().min(1, { error: 'must be 1-4294967295' }).max(4294967295),
          holdTime: z.number().int().min(0).max(65535),
          gracefulRestartTime: z.number().int().min(0).max(4095),
          nodeToNodeMesh: z.boolean(),
        })
        .partial(),
      mtu: z
        .number()
        .int()
        .min(576, { error: 'must be 576-9216' })
        .max(9216, { error: 'must be 576-9216' }),
      hostProtection: z.strictObject({ allowPorts: z.array(portNumber) }).partial(),
    })
    .partial(),
});

export const bgpPeerSchema = z.strictObject({
  apiVersion: z.literal('podnet.io/v1'),
  kind: z.literal('BGPPeer'),
  metadata: objectMetaSchema,
  spec: z.strictObject({
    // Either family: on an IPv6-only cluster nodes peer with routers over IPv6.
    peerIP: anyIP,
    asNumber: z
      .number()
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be 1-4294967295' })
      .max(4294967295, { error: 'must be 1-4294967295' }),
    nodeSelector: stringMap.optional(),
    passwordFile: z
      .string()
      .regex(/^\/[^\0\n]*[^/\0\n]$/, {
        error: 'must be an absolute path to a file on the node, like /etc/podnet/bgp/peer.key',
      })
      .optional(),
  }),
});

export const leaseSchema = z.strictObject({
  apiVersion: z.literal('coordination.k8s.io/v1'),
  kind: z.literal('Lease'),
  metadata: objectMetaSchema,
  spec: z.strictObject({
    holderIdentity: z.string().optional(),
    leaseDurationSeconds: z
      .number()
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be 1 or more' })
      .optional(),
    renewTime: z
      .string()
      .refine((t) => !Number.isNaN(Date.parse(t)), {
        error: 'must be a time like 2024-05-01T10:00:00.000000Z',
      })
      .optional(),
    acquireTime: z.string().optional(),
  }),
});

const labelSelector = z.strictObject({
  matchLabels: stringMap.optional(),
  matchExpressions: z
    .array(
      z.strictObject({
        key: z.string().min(1, { error: 'is required' }),
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: z.array(z.string()).optional(),
      }),
    )
    .optional(),
});

// Which combinations of fields a peer or port may hold, and whether ipBlock CIDRs nest, are
// checked in network-policy.ts, where the messages can name the exact field.
const networkPolicyPeer = z.strictObject({
  podSelector: labelSelector.optional(),
  namespaceSelector: labelSelector.optional(),
  ipBlock: z
    .strictObject({
      cidr: z.string(),
      except: z.array(z.string()).optional(),
    })
    .optional(),
});

const networkPolicyPort = z.strictObject({
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  port: z
    .union([portNumber, portName], {
      error: 'must be a port number 1-65535 or a container port name',
    })
    .optional(),
  endPort: portNumber.optional(),
});

export const networkPolicySchema = z.strictObject({
  apiVersion: z.literal('networking.k8s.io/v1'),
  kind: z.literal('NetworkPolicy'),
  metadata: objectMetaSchema,
  spec: z.strictObject({
    podSelector: labelSelector.optional(),
    policyTypes: z
      .array(z.enum(['Ingress', 'Egress']))
      .max(2, { error: 'may not list more than two policy types' })
      .optional(),
    ingress: z
      .array(
        z.strictObject({
          from: z.array(networkPolicyPeer).optional(),
          ports: z.array(networkPolicyPort).optional(),
        }),
      )
      .optional(),
    egress: z
      .array(
        z.strictObject({
          to: z.array(networkPolicyPeer).optional(),
          ports: z.array(networkPolicyPort).optional(),
        }),
      )
      .optional(),
  }),
});

// Which one field a subject, peer or port gives, and a range's order, are checked in
// admin-network-policy.ts, where the messages can name the exact field.
const namespacedPod = z.strictObject({
  namespaceSelector: labelSelector,
  podSelector: labelSelector,
});
const adminPeer = z.strictObject({
  namespaces: labelSelector.optional(),
  pods: namespacedPod.optional(),
  networks: z.array(z.string()).max(25, { error: 'may list at most 25 networks' }).optional(),
});
const adminPort = z.strictObject({
  portNumber: z.strictObject({ protocol: protocol.default('TCP'), port: portNumber }).optional(),
  portRange: z
    .strictObject({ protocol: protocol.default('TCP'), start: portNumber, end: portNumber })
    .optional(),
  namedPort: portName.optional(),
});
const adminRuleFields = {
  name: z.string().max(100, { error: 'may be at most 100 characters' }).optional(),
  action: z.enum(['Allow', 'Deny', 'Pass']),
  ports: z.array(adminPort).max(100, { error: 'may list at most 100 ports' }).optional(),
};
const adminPeers = z
  .array(adminPeer)
  .min(1, { error: 'must list at least one peer' })
  .max(100, { error: 'may list at most 100 peers' });
const adminRules = {
  ingress: z
    .array(z.strictObject({ ...adminRuleFields, from: adminPeers }))
    .max(100, { error: 'may hold at most 100 rules' })
    .optional(),
  egress: z
    .array(z.strictObject({ ...adminRuleFields, to: adminPeers }))
    .max(100, { error: 'may hold at most 100 rules' })
    .optional(),
};

export const adminNetworkPolicySchema = z.strictObject({
  apiVersion: z.literal('policy.networking.k8s.io/v1alpha1'),
  kind: z.literal('AdminNetworkPolicy'),
  metadata: objectMetaSchema,
  spec: z.strictObject({
    priority: z
      .number()
      .int({ error: 'must be a whole number' })
      .min(0, { error: 'must be 0-1000' })
      .max(1000, { error: 'must be 0-1000' }),
    subject: adminPeer,
    ...adminRules,
  }),
});

export const baselineAdminNetworkPolicySchema = z.strictObject({
  apiVersion: z.literal('policy.networking.k8s.io/v1alpha1'),
  kind: z.literal('BaselineAdminNetworkPolicy'),
  metadata: objectMetaSchema,
  spec: z.strictObject({ subject: adminPeer, ...adminRules }),
});

// Compile-time check that each schema and its type in types.ts describe the same shape: the
// same fields, optional the same way, the same value types (a field added on one side only
// fails the build).
type Deep<T> = T extends (infer U)[]
  ? Deep<U>[]
  : T extends object
    ? { [K in keyof T]: Deep<T[K]> }
    : T;
type Same<A, B> =
  (<X>() => X extends Deep<A> ? 1 : 2) extends <X>() => X extends Deep<B> ? 1 : 2 ? true : false;
// types.ts types apiVersion as any string; the schemas pin the one each kind accepts.
type Parsed<S extends z.ZodType> = Omit<z.infer<S>, 'apiVersion'> & { apiVersion: string };
type PartialSpec<T extends { spec: object }> = Omit<T, 'spec'> & { spec: Partial<T['spec']> };
export const schemasMatchTypes: [
  Same<Parsed<typeof namespaceSchema>, Namespace>,
  Same<Parsed<typeof nodeSchema>, Node>,
  Same<Parsed<typeof podSchema>, Pod>,
  Same<Parsed<typeof serviceSchema>, Service>,
  Same<Parsed<typeof endpointsSchema>, Endpoints>,
  Same<Parsed<typeof endpointSliceSchema>, EndpointSlice>,
  Same<Parsed<typeof serviceAccountSchema>, ServiceAccount>,
  Same<Parsed<typeof roleSchema>, Role>,
  Same<Parsed<typeof clusterRoleSchema>, ClusterRole>,
  Same<Parsed<typeof roleBindingSchema>, RoleBinding>,
  Same<Parsed<typeof clusterRoleBindingSchema>, ClusterRoleBinding>,
  Same<z.infer<typeof clusterNetworkSchema>, PartialSpec<ClusterNetwork>>,
  Same<z.infer<typeof bgpPeerSchema>, BGPPeer>,
  Same<z.infer<typeof leaseSchema>, Lease>,
  Same<Parsed<typeof networkPolicySchema>, NetworkPolicy>,
  Same<Parsed<typeof adminNetworkPolicySchema>, AdminNetworkPolicy>,
  Same<Parsed<typeof baselineAdminNetworkPolicySchema>, BaselineAdminNetworkPolicy>,
] = [
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
  true,
];
