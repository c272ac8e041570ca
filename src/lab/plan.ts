// The lab's topology as plain data: names, zones and the address plan in docs/architecture.md ("The lab").
// Pure functions only; src/lab/up.ts turns a plan into kernel work.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { UsageError } from '../util/errors.js';
import type { Backend, Encryption, ProxyMode, RoutingMode } from '../api/types.js';
import type { LabCloudOptions } from './cloud-plan.js';
import {
  DEFAULT_ETCD_MEMBERS,
  etcdPkiPaths,
  etcdStoreUrl,
  planEtcdMembers,
  type EtcdMemberPlan,
} from './etcd-plan.js';
import {
  addToIP,
  formatCidr,
  formatIP,
  networkAddress,
  nthSubnet,
  parseCidr,
} from '../net/index.js';

export type StoreKind = 'sqlite' | 'etcd';
export type Fabric = 'none' | 'bird' | 'frr';
/** Who runs the pods: the lab's own runner, or containerd's CRI as on a Kubernetes node. */
export type PodRuntime = 'lab' | 'containerd';
/** Which cluster the lab's processes read: podnet's store, or its Kubernetes API. */
export type LabApi = 'podnet' | 'kubernetes';
/** The pod network's families: IPv4 only, IPv6 only, or both (dual-stack). */
export type LabIpFamily = 'ipv4' | 'ipv6' | 'dual';

/** Whether the lab's underlay carries IPv6 beside IPv4: with any IPv6 in the pod network. */
export function hasIPv6Underlay(options: LabOptions): boolean {
  return options.ipFamily === 'dual' || options.ipFamily === 'ipv6';
}

/** What `podnet lab up` was asked for; recorded in lab.json for the other parts to read. */
export interface LabOptions {
  nodes: number;
  zones: number;
  backend: Backend;
  proxy: ProxyMode;
  store: StoreKind;
  routing: RoutingMode;
  fabric: Fabric;
  /** Absent in labs made before there was a choice: the lab's own runner. */
  runtime?: PodRuntime;
  /** Pod traffic between hosts through WireGuard, whatever the backend. */
  encryption?: Encryption;
  /** Absent in labs made before there was a choice: podnet's store. */
  api?: LabApi;
  /** With backend cloud: the emulated route tables' quota and what nodes past it get. */
  cloud?: LabCloudOptions;
  /** With store etcd: how many members (absent: DEFAULT_ETCD_MEMBERS). */
  etcdMembers?: number;
  /** With store etcd: TLS between members and to every client, which must show a certificate. */
  etcdTls?: boolean;
  /** Absent in labs made before there was a choice: IPv4 only. */
  ipFamily?: LabIpFamily;
}

export const DEFAULT_LAB_OPTIONS: LabOptions = {
  nodes: 3,
  zones: 2,
  backend: 'auto',
  proxy: 'iptables',
  store: 'sqlite',
  routing: 'store',
  fabric: 'none',
};

export interface ZonePlan {
  /** Zone label value, `zone-<z>`. */
  zone: string;
  index: number;
  subnet: string;
  /** The underlay namespace's address on this zone's bridge: the zone's router. */
  router: string;
  /** Bridge in the underlay namespace (interface names are per namespace, so they stay short). */
  bridge: string;
  /** In a dual-stack lab: the zone's IPv6 segment and its router's address there. */
  ipv6?: { subnet: string; router: string };
}

export interface HostPlan {
  /** Node name, `node-<i>`. */
  name: string;
  index: number;
  zone: string;
  zoneIndex: number;
  /** Underlay address (no prefix length). */
  ip: string;
  prefixLength: number;
  router: string;
  /** In a dual-stack lab: the host's IPv6 underlay address (a /64) and its zone router's. */
  ipv6?: { address: string; router: string };
  netns: string;
  /** The host's underlay interface, inside its own namespace. */
  interface: string;
  /** The veth end in the underlay namespace, enslaved to the zone bridge. */
  underlayPeer: string;
  /** Durable state of this host's agent (and its CNI socket). */
  stateDir: string;
  agentSocket: string;
  metricsAddress: string;
}

export interface LabPlan {
  name: string;
  stateDir: string;
  /**
   * The store as seen from inside the lab (agents, pod runners, pods): the SQLite file, or
   * etcd on the underlay. `podnet` in the machine's namespace may need another URL (lab.json).
   */
  hostStoreUrl: string;
  /** With store etcd: its members, on the underlay (none with SQLite). */
  etcdMembers: EtcdMemberPlan[];
  underlayNetns: string;
  zones: ZonePlan[];
  hosts: HostPlan[];
  options: LabOptions;
}

/**
 * Lab names become the prefix of every namespace the lab makes; they are kept to a valid
 * interface-name fragment (lowercase letters, digits, inner dashes, at most 15 characters) so
 * a name derived from one never breaks a kernel limit. `-node-` is refused because it would
 * make one lab's namespaces look like another lab's pods.
 */
export const LAB_NAME_MAX = 15;
const LAB_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export function labNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > LAB_NAME_MAX) return `must be at most ${LAB_NAME_MAX} characters`;
  if (!LAB_NAME.test(name)) {
    return 'must be lowercase letters, digits and inner dashes (a valid interface-name fragment)';
  }
  if (name.includes('-node-')) return "must not contain '-node-'";
  return undefined;
}

export function validateLabName(name: string): string {
  const problem = labNameProblem(name);
  if (problem) throw new UsageError(`--name ${JSON.stringify(name)}: ${problem}`);
  return name;
}

export const MAX_NODES = 250;
export const MAX_ZONES = 16;

/** Zones when --zones is not given: two, or one per host when there are fewer hosts. */
export const DEFAULT_ZONES = 2;

/**
 * The zone count for `lab up`: hosts are dealt round-robin, so more zones than hosts would
 * leave zones with no host in them — refused rather than built empty.
 */
export function zonesFor(nodes: number, zones: number | undefined): number {
  if (zones === undefined) return Math.min(DEFAULT_ZONES, nodes);
  if (zones > nodes) {
    throw new UsageError(
      `--zones ${zones}: more zones than hosts (--nodes ${nodes}) would leave ${zones - nodes} zone(s) empty; use --zones 1 to ${nodes}`,
    );
  }
  return zones;
}

/** Zone of host i (1-based): hosts are dealt round-robin over the zones. */
export function zoneOf(hostIndex: number, zones: number): number {
  return ((hostIndex - 1) % zones) + 1;
}

export function underlayNetns(lab: string): string {
  return `${lab}-underlay`;
}

export function hostNetns(lab: string, host: string): string {
  return `${lab}-${host}`;
}

/** Longest pod namespace name before it is shortened to a hash (keeps paths and `ip netns` output readable). */
export const POD_NETNS_MAX = 63;

/** `NAME-<host>-<namespace>-<pod>`, or `NAME-<host>-p<hash>` when that is too long. */
export function podNetns(lab: string, host: string, namespace: string, pod: string): string {
  const full = `${lab}-${host}-${namespace}-${pod}`;
  if (full.length <= POD_NETNS_MAX) return full;
  const hash = createHash('sha256').update(`${namespace}/${pod}`).digest('hex').slice(0, 16);
  return `${lab}-${host}-p${hash}`;
}

/** True if a namespace name belongs to the lab (underlay, a host, or a pod of one of its hosts). */
export function ownsNetns(lab: string, netns: string): boolean {
  if (netns === underlayNetns(lab)) return true;
  return new RegExp(`^${lab}-node-[0-9]+(-.+)?$`).test(netns);
}

export function labStateDir(labsDir: string, lab: string): string {
  return join(labsDir, lab);
}

export function planLab(labsDir: string, name: string, options: LabOptions): LabPlan {
  const stateDir = labStateDir(labsDir, name);
  const zones: ZonePlan[] = [];
  const dual = hasIPv6Underlay(options);
  for (let z = 1; z <= options.zones; z++) {
    zones.push({
      zone: `zone-${z}`,
      index: z,
      subnet: `172.31.${z}.0/24`,
      router: `172.31.${z}.254`,
      bridge: `br${z}`,
      ...(dual ? { ipv6: zoneIPv6(z) } : {}),
    });
  }
  const hosts: HostPlan[] = [];
  for (let i = 1; i <= options.nodes; i++) {
    const z = zoneOf(i, options.zones);
    const host = `node-${i}`;
    const hostDir = join(stateDir, 'hosts', host);
    hosts.push({
      name: host,
      index: i,
      zone: `zone-${z}`,
      zoneIndex: z,
      ip: `172.31.${z}.${i}`,
      prefixLength: 24,
      router: `172.31.${z}.254`,
      ...(dual ? { ipv6: { address: hostIPv6(z, i), router: zoneIPv6(z).router } } : {}),
      netns: hostNetns(name, host),
      interface: 'eth0',
      underlayPeer: `h${i}`,
      stateDir: hostDir,
      agentSocket: join(hostDir, 'agent.sock'),
      metricsAddress: '127.0.0.1:9101',
    });
  }
  const etcdMembers =
    options.store === 'etcd'
      ? planEtcdMembers(
          zones[0]!.router,
          options.etcdMembers ?? DEFAULT_ETCD_MEMBERS,
          options.etcdTls ?? false,
        )
      : [];
  return {
    name,
    stateDir,
    hostStoreUrl:
      options.store === 'etcd'
        ? etcdStoreUrl(
            etcdMembers.map((m) => m.endpoint),
            options.etcdTls ? etcdPkiPaths(stateDir) : undefined,
          )
        : `sqlite:${join(stateDir, 'store.db')}`,
    etcdMembers,
    underlayNetns: underlayNetns(name),
    zones,
    hosts,
    options,
  };
}

/** The lab's IPv6 underlay: one ULA /64 per zone, as 172.31.z.0/24 is for IPv4. */
const UNDERLAY_IPV6 = parseCidr('fd00:172:31::/48');
/** The zone router's IPv6 host number, as .254 is its IPv4 one. */
const ROUTER_HOST = 0xfe;

function zoneIPv6(zone: number): { subnet: string; router: string } {
  const subnet = nthSubnet(UNDERLAY_IPV6, 64, zone);
  return {
    subnet: formatCidr(subnet),
    router: formatIP(addToIP(networkAddress(subnet), ROUTER_HOST)),
  };
}

function hostIPv6(zone: number, host: number): string {
  return formatIP(addToIP(networkAddress(nthSubnet(UNDERLAY_IPV6, 64, zone)), host));
}

/**
 * A dual-stack lab's IPv6 sysctls (underlay and hosts alike): forwarding, and no duplicate
 * address detection on its own addresses, so that no underlay address is still tentative
 * when the first pods send. Set inside the lab's namespaces only.
 */
export const IPV6_SYSCTLS: Record<string, string> = {
  'net.ipv6.conf.all.forwarding': '1',
  'net.ipv6.conf.all.accept_dad': '0',
  'net.ipv6.conf.default.accept_dad': '0',
};

/** Sysctls of the underlay (it routes between zones). Set inside its namespace only. */
export const UNDERLAY_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.ipv4.conf.all.rp_filter': '0',
  'net.ipv4.conf.default.rp_filter': '0',
};

/**
 * Sysctls of a host: it forwards between pods and the underlay, and loose reverse-path
 * filtering lets tunnel and pod traffic through whatever way it arrives.
 */
export const HOST_SYSCTLS: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.ipv4.conf.all.rp_filter': '0',
  'net.ipv4.conf.default.rp_filter': '0',
  'net.ipv4.ping_group_range': '0 2147483647',
};

/**
 * `ip -batch` lines for the underlay namespace: one bridge per zone holding the zone's router
 * address, and one veth per host whose other end is created straight in the host's namespace.
 */
export function underlayBatch(plan: LabPlan): string[] {
  const lines = ['link set lo up'];
  for (const z of plan.zones) {
    lines.push(
      `link add ${z.bridge} type bridge`,
      `addr add ${z.router}/24 dev ${z.bridge}`,
      ...(z.ipv6 ? [`addr add ${z.ipv6.router}/64 dev ${z.bridge} nodad`] : []),
      `link set ${z.bridge} up`,
    );
  }
  // etcd members past the first, beside zone 1's router (the first has the router's address).
  for (const m of plan.etcdMembers.slice(1)) {
    lines.push(`addr add ${m.address}/24 dev ${plan.zones[0]!.bridge}`);
  }
  for (const h of plan.hosts) {
    const bridge = plan.zones[h.zoneIndex - 1]!.bridge;
    lines.push(
      `link add ${h.underlayPeer} type veth peer name ${h.interface} netns ${h.netns}`,
      `link set ${h.underlayPeer} master ${bridge}`,
      `link set ${h.underlayPeer} up`,
    );
  }
  return lines;
}

/** `ip -batch` lines for a host namespace: its underlay address and the route via its zone router. */
export function hostBatch(host: HostPlan): string[] {
  return [
    'link set lo up',
    `addr add ${host.ip}/${host.prefixLength} dev ${host.interface}`,
    `link set ${host.interface} up`,
    `route add default via ${host.router} dev ${host.interface}`,
    ...(host.ipv6
      ? [
          `addr add ${host.ipv6.address}/64 dev ${host.interface} nodad`,
          `route add ::/0 via ${host.ipv6.router} dev ${host.interface}`,
        ]
      : []),
  ];
}

/** A host's wireguard-go control socket directory: its own, not the machine's /run/wireguard. */
export function wireguardSocketDir(hostStateDir: string): string {
  return join(hostStateDir, 'wireguard');
}
