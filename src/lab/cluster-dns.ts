// The lab's cluster DNS as plain data: the kube-system objects (namespace, the kube-dns
// Service at the DNS IP, DNS pods running `podnet dns`) and the underlay's upstream resolver
// (dnsmasq with a few made-up external names, never forwarding anywhere). The effects live in
// cluster-dns-up.ts.
import { FAMILY_NAMES } from '../api/cluster-families.js';
import { parseIP } from '../net/index.js';
import {
  DEFAULT_CLUSTER_NETWORK,
  type KubeObject,
  type Namespace,
  type Pod,
  type Service,
} from '../api/types.js';

export const DNS_NAMESPACE = 'kube-system';
export const DNS_SERVICE = 'kube-dns';
export const DNS_LABEL = { 'k8s-app': 'kube-dns' };

/**
 * The upstream resolver's address: a /32 on the underlay namespace's loopback, so that hosts
 * reach it through their default route (the zone router) and its replies to pods can be
 * routed by source (see resolverRouteBatch) without teaching the underlay any pod route.
 */
export const RESOLVER_IP = '172.31.255.53';

/** Made-up external names the upstream knows (documentation addresses, RFC 5737). */
export const EXTERNAL_NAMES: Record<string, string> = {
  'www.example.test': '192.0.2.80',
  'api.example.test': '192.0.2.81',
  'db.example.test': '192.0.2.82',
};

/** Routing table (in the underlay) for the resolver's replies to pods. */
export const RESOLVER_TABLE = 53;

export interface ClusterDnsOptions {
  /** Nodes to run DNS pods on (one pod each). */
  nodes: string[];
  /**
   * The ClusterNetwork's DNS addresses, one per service family (primary first): kube-dns takes
   * all of them, as a dual-stack cluster's kube-dns does, so pods resolve over either family.
   */
  dnsIPs?: string[];
  /** `podnet dns --upstream`. */
  upstream?: string;
  /** The cluster `podnet dns` reads (PODNET_STORE) when not the lab's store given to every pod. */
  source?: string;
}

export function clusterDnsObjects(opts: ClusterDnsOptions): KubeObject[] {
  const ns: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DNS_NAMESPACE } };
  const dnsIPs = opts.dnsIPs ?? [DEFAULT_CLUSTER_NETWORK.dnsIP];
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: DNS_SERVICE, namespace: DNS_NAMESPACE, labels: { ...DNS_LABEL } },
    spec: {
      type: 'ClusterIP',
      clusterIP: dnsIPs[0],
      ...(dnsIPs.length > 1
        ? {
            clusterIPs: dnsIPs,
            ipFamilies: dnsIPs.map((ip) => FAMILY_NAMES[parseIP(ip).family]),
            ipFamilyPolicy: 'RequireDualStack' as const,
          }
        : {}),
      selector: { ...DNS_LABEL },
      ports: [
        { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
        { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
        { name: 'metrics', protocol: 'TCP', port: 9153, targetPort: 9153 },
      ],
    },
  };
  const pods = opts.nodes.map((node, i): Pod => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `coredns-${i}`, namespace: DNS_NAMESPACE, labels: { ...DNS_LABEL } },
    spec: {
      nodeName: node,
      containers: [
        {
          name: 'dns',
          command: [
            'podnet',
            'dns',
            '--upstream',
            opts.upstream ?? `${RESOLVER_IP}:53`,
            '--metrics',
            '[::]:9153',
            // The lab's hosts share one machine's cores: one answering process per DNS pod.
            '--workers',
            '1',
          ],
          ...(opts.source ? { env: [{ name: 'PODNET_STORE', value: opts.source }] } : {}),
          ports: [
            { name: 'dns', containerPort: 53, protocol: 'UDP' },
            { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
          ],
          // In the Service's endpoints once it has read the cluster, not once it has started:
          // until then it would refuse or fail every lookup sent its way.
          readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' }, periodSeconds: 1 },
        },
      ],
    },
  }));
  return [ns, svc, ...pods];
}

/** dnsmasq as the underlay's resolver: only the made-up names, no upstream, no files read. */
export function resolverArgv(pidFile: string): string[] {
  return [
    'dnsmasq',
    '--keep-in-foreground',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--local-ttl=60', // so that forwarded answers can be cached downstream
    `--listen-address=${RESOLVER_IP}`,
    '--bind-interfaces',
    '--port=53',
    // example.test is its own: names it does not know are NXDOMAIN, not REFUSED
    '--local=/example.test/',
    ...Object.entries(EXTERNAL_NAMES).map(([name, ip]) => `--host-record=${name},${ip}`),
    `--pid-file=${pidFile}`,
    '--user=root',
  ];
}

export interface NodeRoute {
  /** The node's pod subnet (`spec.podCIDR`). */
  podCIDR: string;
  /** The node's underlay address. */
  nodeIP: string;
}

/**
 * `ip -batch` lines for the underlay namespace: the resolver's address, and routes back to
 * the pods that ask it, used only for packets from that address (policy routing), so that no
 * other traffic between zones can take a short cut past the tunnels.
 */
export function resolverRouteBatch(nodes: NodeRoute[]): string[] {
  return [
    `addr replace ${RESOLVER_IP}/32 dev lo`,
    `rule add from ${RESOLVER_IP} lookup ${RESOLVER_TABLE} priority 530`,
    ...nodes.map((n) => `route replace ${n.podCIDR} via ${n.nodeIP} table ${RESOLVER_TABLE}`),
  ];
}
