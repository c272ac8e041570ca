// The node guard, as an nftables table of its own (pure: the desired table and the script that
// brings a listed table to it; reading and applying belong to the kernel edge). It holds
// whatever NetworkPolicy says and in both proxy modes:
//
// - anti-spoofing: at prerouting priority raw (-300), before routing, conntrack and the service
//   DNAT, a packet from a pod veth must carry that pod's own address (an exact
//   `iifname . saddr` set, one element per wired pod, so pod churn changes elements, not
//   rules); IPv6 link-local traffic, duplicate-address probes and the listener reports a pod
//   sends from `::` while its addresses are tentative pass (NDP keeps working on the veth, and
//   bringing a pod up counts as no spoofing), router advertisements and everything else from a
//   pod veth are dropped;
// - tunnels: pods cannot send podnet's own encapsulation (VXLAN on UDP 8472, IP-in-IP) at
//   all, so nothing a pod sends can be decapsulated by a host as if another host had sent it;
// - host protection: after the service DNAT (so a Service pointing at a host is caught too)
//   and before masquerade, in input (this host, any of its addresses) and forward (every
//   other node and control-plane address), pods cannot reach podnet's control ports; the
//   cluster's own add-ons (kube-system) are the exception.
// Each kind of drop has a named counter, which the agent exports as a metric.
import type { Node } from '../api/types.js';
import { formatIP, hostRange, tryParseCidr, tryParseIP } from '../net/index.js';

export const GUARD_TABLE = 'inet podnet-guard';

/** Host-side pod veths are `pn` + a hash: what the guard treats as "from a pod". */
const POD_VETH_MATCH = '"pn*"';
/**
 * podnet's tunnel devices share the prefix (docs/conventions.md), and what they deliver comes
 * from other hosts' pods, checked on their own hosts: never judged as a local pod's.
 */
const NOT_FROM_A_LOCAL_POD = [
  `iifname != ${POD_VETH_MATCH} accept`,
  // In the order nft lists them back, so that an unchanged chain compares equal.
  'iifname { "pn-wg", "pn-ipip", "pn-vxlan", "pn-vxlan6" } accept',
];

export const DROP_REASONS = ['spoofed', 'tunnel', 'host-port'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** podnet's VXLAN port (docs/conventions.md). */
const VXLAN_PORT = 8472;

/**
 * The ports podnet's daemons listen on: BGP, etcd client and peer, the API server, agent
 * metrics and health, DNS metrics. The agent adds the ports of its own configuration.
 */
export const CONTROL_PORTS: readonly PortRange[] = [
  { first: 179, last: 179 },
  { first: 2379, last: 2380 },
  { first: 6443, last: 6443 },
  { first: 9101, last: 9101 },
  { first: 9153, last: 9153 },
];

export interface PortRange {
  first: number;
  last: number;
}

/** A pod as the CNI wired it on this node. */
export interface WiredPod {
  hostVeth: string;
  ip: string;
  /** Its Kubernetes namespace, when the runtime said (podman, for one, does not). */
  podNamespace?: string;
}

/**
 * The cluster's own add-ons (the cluster DNS, which reads the store) run here, and only
 * administrators create pods here: its pods keep the hosts' control ports. The other guards
 * hold for them too.
 */
export const HOST_ACCESS_NAMESPACE = 'kube-system';

export interface GuardInput {
  /** Pods wired on this node. */
  pods: readonly WiredPod[];
  /** Addresses of every node and of the control plane (store, API server). */
  protectedAddresses: readonly string[];
  /** Control ports, before the operator's opened ports are taken out. */
  controlPorts: readonly PortRange[];
  /** Ports the operator opened to pods (ClusterNetwork spec.hostProtection.allowPorts). */
  allowPorts: readonly number[];
}

export interface GuardSet {
  name: string;
  body: string;
  elements: string[];
}

export interface GuardChain {
  name: string;
  base: string;
  rules: string[];
}

export interface GuardTable {
  counters: readonly DropReason[];
  sets: GuardSet[];
  chains: GuardChain[];
}

/** The table as listed: undefined for what is missing. Rules and elements as nft prints them. */
export interface ListedGuard {
  counters: ReadonlySet<string>;
  sets: ReadonlyMap<string, readonly string[] | undefined>;
  chains: ReadonlyMap<string, readonly string[] | undefined>;
}

const SOURCES = { 4: 'pod-sources-v4', 6: 'pod-sources-v6' } as const;
const NODES = { 4: 'node-addresses-v4', 6: 'node-addresses-v6' } as const;
const HOST_ACCESS = { 4: 'host-access-v4', 6: 'host-access-v6' } as const;
const PORTS = 'protected-ports';
/** The ports set keys on protocol numbers (nft lists them by name; the kernel edge maps back). */
const PROTOCOLS = [6, 17] as const;

const drop = (reason: DropReason): string => `counter name "${reason}" drop`;

/**
 * The control ports minus the opened ones, as `protocol . port` intervals (TCP and UDP alike:
 * a port is closed or open whatever rides on it).
 */
export function protectedPortElements(
  controlPorts: readonly PortRange[],
  allowPorts: readonly number[],
): string[] {
  const open = new Set(allowPorts);
  const ports = new Set<number>();
  for (const { first, last } of controlPorts)
    for (let p = first; p <= last; p++) if (!open.has(p)) ports.add(p);
  const ranges: PortRange[] = [];
  for (const p of [...ports].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last && p === last.last + 1) last.last = p;
    else ranges.push({ first: p, last: p });
  }
  return PROTOCOLS.flatMap((proto) =>
    ranges.map((r) => `${proto} . ${r.first === r.last ? r.first : `${r.first}-${r.last}`}`),
  );
}

function byFamily(addresses: Iterable<string>): { 4: string[]; 6: string[] } {
  const out = { 4: new Set<string>(), 6: new Set<string>() };
  for (const text of addresses) {
    const ip = tryParseIP(text);
    if (ip) out[ip.family].add(formatIP(ip));
  }
  return { 4: [...out[4]].sort(), 6: [...out[6]].sort() };
}

function podSources(pods: readonly WiredPod[]): { 4: string[]; 6: string[] } {
  const out = { 4: new Set<string>(), 6: new Set<string>() };
  for (const pod of pods) {
    const ip = tryParseIP(pod.ip);
    if (ip && pod.hostVeth) out[ip.family].add(`"${pod.hostVeth}" . ${formatIP(ip)}`);
  }
  return { 4: [...out[4]].sort(), 6: [...out[6]].sort() };
}

/**
 * What a pod could reach a node's daemons on: its InternalIP and ExternalIP, and the gateway
 * of its pod subnet (the first address, on every pod veth of that node), which pods of other
 * nodes reach over the routes and tunnels between nodes.
 */
export function protectedNodeAddresses(nodes: Iterable<Node>): string[] {
  return [...nodes].flatMap((n) => [
    ...(n.status?.addresses ?? [])
      .filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP')
      .map((a) => a.address),
    ...[...new Set([n.spec.podCIDR, ...(n.spec.podCIDRs ?? [])])].flatMap((text) => {
      const cidr = text === undefined ? undefined : tryParseCidr(text);
      return cidr ? [formatIP(hostRange(cidr).first)] : [];
    }),
  ]);
}

/** The whole guard table for one node. Rules are written as nft lists them, to compare. */
export function desiredGuard(input: GuardInput): GuardTable {
  const sources = podSources(input.pods);
  const nodes = byFamily(input.protectedAddresses);
  const hostAccess = byFamily(
    input.pods.filter((p) => p.podNamespace === HOST_ACCESS_NAMESPACE).map((p) => p.ip),
  );
  // An accept ends only this chain: NetworkPolicy's chains still judge the packet.
  const exempt = [`ip saddr @${HOST_ACCESS[4]} accept`, `ip6 saddr @${HOST_ACCESS[6]} accept`];
  const toControl = `meta l4proto . th dport @${PORTS} ${drop('host-port')}`;
  return {
    counters: DROP_REASONS,
    sets: [
      { name: SOURCES[4], body: 'type ifname . ipv4_addr;', elements: sources[4] },
      { name: SOURCES[6], body: 'type ifname . ipv6_addr;', elements: sources[6] },
      { name: NODES[4], body: 'type ipv4_addr;', elements: nodes[4] },
      { name: NODES[6], body: 'type ipv6_addr;', elements: nodes[6] },
      { name: HOST_ACCESS[4], body: 'type ipv4_addr;', elements: hostAccess[4] },
      { name: HOST_ACCESS[6], body: 'type ipv6_addr;', elements: hostAccess[6] },
      {
        name: PORTS,
        body: 'type inet_proto . inet_service; flags interval;',
        elements: protectedPortElements(input.controlPorts, input.allowPorts),
      },
    ],
    chains: [
      {
        name: 'prerouting',
        base: 'type filter hook prerouting priority raw; policy accept;',
        rules: [
          ...NOT_FROM_A_LOCAL_POD,
          `meta l4proto ipencap ${drop('tunnel')}`,
          `udp dport ${VXLAN_PORT} ${drop('tunnel')}`,
          `iifname . ip saddr @${SOURCES[4]} accept`,
          `iifname . ip6 saddr @${SOURCES[6]} accept`,
          `icmpv6 type nd-router-advert ${drop('spoofed')}`,
          'ip6 saddr fe80::/10 accept',
          'ip6 saddr :: icmpv6 type nd-neighbor-solicit accept',
          'ip6 saddr :: icmpv6 type mld2-listener-report accept',
          drop('spoofed'),
        ],
      },
      {
        // Before the policy chains (filter): a drop here is final whatever they accept.
        name: 'input',
        base: 'type filter hook input priority filter - 10; policy accept;',
        rules: [...NOT_FROM_A_LOCAL_POD, ...exempt, toControl],
      },
      {
        name: 'forward',
        base: 'type filter hook forward priority filter - 10; policy accept;',
        rules: [
          ...NOT_FROM_A_LOCAL_POD,
          ...exempt,
          `ip daddr @${NODES[4]} ${toControl}`,
          `ip6 daddr @${NODES[6]} ${toControl}`,
        ],
      },
    ],
  };
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The nft script that turns the listed table into the desired one, changing only what
 * differs (a chain whose rules differ is rewritten inside the same transaction); undefined
 * when the kernel already holds it, so an unchanged restart sends nothing.
 */
export function guardScript(want: GuardTable, have: ListedGuard): string | undefined {
  const t = GUARD_TABLE;
  const declare: string[] = [];
  const change: string[] = [];
  for (const reason of want.counters)
    if (!have.counters.has(reason)) declare.push(`add counter ${t} ${reason}`);
  for (const set of want.sets) {
    const listed = have.sets.get(set.name);
    if (listed === undefined) declare.push(`add set ${t} ${set.name} { ${set.body} }`);
    const present = new Set(listed ?? []);
    const wanted = new Set(set.elements);
    const stale = [...present].filter((e) => !wanted.has(e));
    const missing = set.elements.filter((e) => !present.has(e));
    if (stale.length) change.push(`delete element ${t} ${set.name} { ${stale.join(', ')} }`);
    if (missing.length) change.push(`add element ${t} ${set.name} { ${missing.join(', ')} }`);
  }
  const rules: string[] = [];
  for (const chain of want.chains) {
    const listed = have.chains.get(chain.name);
    if (listed !== undefined && sameList(listed, chain.rules)) continue;
    if (listed === undefined) declare.push(`add chain ${t} ${chain.name} { ${chain.base} }`);
    else rules.push(`flush chain ${t} ${chain.name}`);
    for (const rule of chain.rules) rules.push(`add rule ${t} ${chain.name} ${rule}`);
  }
  if (declare.length + change.length + rules.length === 0) return undefined;
  // Stale elements go before new ones: a veth that now carries another address is a new key.
  return `${[`add table ${t}`, ...declare, ...rules, ...change].join('\n')}\n`;
}

/** What the guard needs of the kernel: the real one runs `nft`, tests use an in-memory fake. */
export interface GuardKernel {
  /** One `nft -f` transaction: all or nothing. */
  run(script: string): Promise<void>;
  /**
   * The guard's table as it is written: chains' rules (without a hook line), sets' elements,
   * packets per named counter; what is missing is absent from its map.
   */
  list(): Promise<{
    chains: ReadonlyMap<string, readonly string[]>;
    sets: ReadonlyMap<string, readonly string[]>;
    counters: ReadonlyMap<string, number>;
  }>;
  /** Packets per named counter of the guard's table (empty when the table is missing). */
  counters(): Promise<Map<string, number>>;
}

/** A table this process programmed, as a listing of it would show it. */
function listedFrom(table: GuardTable): ListedGuard {
  return {
    counters: new Set(table.counters),
    sets: new Map(table.sets.map((s) => [s.name, s.elements])),
    chains: new Map(table.chains.map((c) => [c.name, c.rules])),
  };
}

async function readGuard(kernel: GuardKernel): Promise<ListedGuard> {
  const { chains, sets, counters } = await kernel.list();
  return { counters: new Set(counters.keys()), sets, chains };
}

/**
 * Changes only what differs from the input and returns the table now in the kernel, and
 * whether anything was sent. Given the table it programmed last, it diffs against that
 * instead of reading the kernel (a new pod's ADD then costs one `nft` run, not two
 * listings); should that script fail, the table was changed behind its back, and it reads
 * the kernel and tries again. A pass without it reads the kernel: that is what repairs.
 */
export async function syncGuard(
  kernel: GuardKernel,
  input: GuardInput,
  programmed?: GuardTable,
): Promise<{ table: GuardTable; changed: boolean }> {
  const want = desiredGuard(input);
  if (programmed) {
    const script = guardScript(want, listedFrom(programmed));
    if (script === undefined) return { table: want, changed: false };
    try {
      await kernel.run(script);
      return { table: want, changed: true };
    } catch {
      // Read below: the kernel no longer holds what was remembered.
    }
  }
  const script = guardScript(want, await readGuard(kernel));
  if (script !== undefined) await kernel.run(script);
  return { table: want, changed: script !== undefined };
}

/**
 * Whether the kernel holds exactly `programmed`: a read that changes nothing, so it can run
 * beside a pass rather than in its place.
 */
export async function guardHolds(kernel: GuardKernel, programmed: GuardTable): Promise<boolean> {
  return guardScript(programmed, await readGuard(kernel)) === undefined;
}
