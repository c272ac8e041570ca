// `podnet doctor`: the checks that catch what breaks pod networks in practice (flannel's and
// Calico's recurring user problems). Pure: facts in, one verdict per check out, each failing
// verdict with the command that fixes it.
import { nodeInternalIP, nodePodCIDR } from '../api/node-network.js';
import type { ClusterNetwork, Lease, Node } from '../api/types.js';
import {
  ANNOTATION_CLOUD_INTERFACE,
  ANNOTATION_CLOUD_ROUTE,
  ANNOTATION_CLOUD_SOURCE_DEST_CHECK,
  ANNOTATION_VTEP_MAC,
  NODE_STATUS_UNKNOWN,
} from '../api/types.js';
import type { HostFacts } from '../kernel/host-facts.js';
import type { Change } from '../kernel/netobjects.js';
import { renderCommands } from '../kernel/routing-render.js';
import type { NodeBgpStatus } from '../bgp/status-store.js';
import { containsCidr, tryParseCidr } from '../net/index.js';
import { NETWORK_UNAVAILABLE } from '../routing/condition.js';
import { clusterOverhead } from '../routing/mtu.js';
import { usesIpip } from '../routing/backends/auto.js';
import { describeWireguard, type WireguardStatus } from '../routing/wireguard-status.js';
import { backendAdvice } from '../routing/advice.js';
import { describeSettled, offloadCommands, type OffloadPlan } from '../routing/offloads.js';

export const VXLAN_DEVICE = 'pn-vxlan';
export const IPIP_DEVICE = 'pn-ipip';
/** Host-side pod veths: `pn` + 11 hex characters (docs/conventions.md). */
const POD_VETH = /^pn[0-9a-f]{11}$/;

export interface DoctorInput {
  host: HostFacts;
  nodeName: string;
  nodes: Node[];
  network: ClusterNetwork['spec'];
  /** `CONFIG_*` options of the running kernel, when it exposes them. */
  kernelConfig?: Map<string, string>;
  /** The BGP sessions this node's agent last published (`routing: bgp`). */
  bgp?: NodeBgpStatus;
  /** For the age of that publication. */
  now?: Date;
  /** What the routing reconciler wants on this host, or why it could not be worked out. */
  routing?: RoutingView | RoutingUnknown;
  /** The device features the agent keeps, against what the links have, or why unknown. */
  offloads?: OffloadPlan | RoutingUnknown;
  /** The nodes' heartbeats (`kube-node-lease`), to tell a dead agent. */
  leases?: Lease[];
  /** The devices running the eBPF data path's programs, or why that could not be read. */
  datapathDevices?: { pod: string[]; underlay: string[] } | RoutingUnknown;
  /** Translated connections the programs still carry (each direction counted), when read. */
  datapathTranslationsOpen?: number;
  /** The command that starts a dead agent again (`podnet lab repair` in a lab). */
  restartAgent?: string;
}

/**
 * Why a node's agent counts as dead, or undefined while it posts status: a peer marked its
 * Node Unknown, or its Lease is older than its duration (also when no agent is left to mark).
 */
export function agentSilence(input: DoctorInput, node: string): string | undefined {
  const now = (input.now ?? new Date()).getTime();
  const lease = input.leases?.find((l) => l.metadata.name === node);
  const renewed = lease?.spec.renewTime ? Date.parse(lease.spec.renewTime) : undefined;
  const ago = renewed === undefined ? undefined : Math.round((now - renewed) / 1000);
  const since = ago === undefined ? '' : ` (last heartbeat ${ago} s ago)`;
  const ready = input.nodes
    .find((n) => n.metadata.name === node)
    ?.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'Unknown' && ready.reason === NODE_STATUS_UNKNOWN) {
    return `the agent on ${node} stopped posting status${since}`;
  }
  const duration = lease?.spec.leaseDurationSeconds;
  if (ago !== undefined && duration !== undefined && ago > duration) {
    return `the agent on ${node} stopped posting status${since}`;
  }
  return undefined;
}

function restartAgentFix(input: DoctorInput, node: string): string {
  return input.restartAgent ?? `start 'podnet agent' on ${node} again`;
}

/** Why what routing wants could not be worked out, and what to look at (default: the Node). */
export interface RoutingUnknown {
  error: string;
  fix?: string;
}

/** The routing reconciler's own view of this host (the same pure planning the agent runs). */
export interface RoutingView {
  /** What a reconcile would change now. */
  changes: Change[];
  /** Devices whose rp_filter the agent keeps loose. */
  looseRpFilter: string[];
  /** How often the agent reconciles in full, repairing what was changed by hand. */
  periodSeconds: number;
  /** podnet's WireGuard device, where it has one. */
  wireguard?: WireguardStatus;
}

const routingView = (input: DoctorInput): RoutingView | undefined =>
  input.routing && 'changes' in input.routing ? input.routing : undefined;

export interface Verdict {
  check: string;
  ok: boolean;
  detail: string;
  /** The command that fixes it, for failing checks. */
  fix?: string;
}

type Check = (input: DoctorInput) => Verdict[];

const pass = (check: string, detail: string): Verdict => ({ check, ok: true, detail });
const fail = (check: string, detail: string, fix: string): Verdict => ({
  check,
  ok: false,
  detail,
  fix,
});

const ipForward: Check = ({ host }) => {
  const v = host.sysctls['net.ipv4.ip_forward'];
  return [
    v === '1'
      ? pass('ip_forward', 'net.ipv4.ip_forward = 1')
      : fail(
          'ip_forward',
          `net.ipv4.ip_forward = ${v ?? 'unknown'}: this host drops every packet it should forward to or from its pods`,
          'sysctl -w net.ipv4.ip_forward=1',
        ),
  ];
};

/**
 * Strict reverse-path filtering drops packets that arrive on a device other than the one the
 * reply would leave by; tunnels make that asymmetry normal. The kernel applies the larger of
 * `all` and the device's own value. The devices checked are the ones the agent loosens (the
 * underlay and the tunnels): a pod's veth is symmetric by construction — its pod's address
 * is routed back out of it — so strict filtering there drops nothing.
 */
const rpFilter: Check = (input) => {
  const { host } = input;
  const all = Number(host.sysctls['net.ipv4.conf.all.rp_filter'] ?? 0);
  const devices =
    routingView(input)?.looseRpFilter ??
    host.links
      .filter((l) => l.ifname === VXLAN_DEVICE || l.ifname === IPIP_DEVICE)
      .map((l) => l.ifname);
  const strict = devices.filter((dev) => {
    const own = Number(host.sysctls[`net.ipv4.conf.${dev}.rp_filter`] ?? 0);
    return Math.max(all, own) === 1;
  });
  if (strict.length === 0) {
    return [
      pass(
        'rp_filter',
        `loose or off on ${devices.join(', ') || 'every podnet device'} (all = ${all})`,
      ),
    ];
  }
  return [
    fail(
      'rp_filter',
      `strict rp_filter (1${all === 1 ? ', from all = 1' : ''}) on ${strict.join(', ')}: asymmetric pod traffic arriving there is dropped`,
      strict.map((n) => `sysctl -w net.ipv4.conf.${n}.rp_filter=2`).join(' && '),
    ),
  ];
};

/** Docker and some distributions set FORWARD to DROP; pod traffic then needs explicit accepts. */
const forwardPolicy: Check = ({ host, network }) => {
  if (host.forwardPolicy !== 'DROP') {
    return [pass('forward-policy', `iptables FORWARD policy ${host.forwardPolicy ?? 'ACCEPT'}`)];
  }
  const cidr = network.clusterCIDR;
  const accepts = (flag: '-s' | '-d') =>
    host.forwardRules.some((r) => r.includes(`${flag} ${cidr}`) && r.endsWith('-j ACCEPT'));
  if (accepts('-s') && accepts('-d')) {
    return [pass('forward-policy', `FORWARD policy DROP, but ${cidr} is accepted both ways`)];
  }
  return [
    fail(
      'forward-policy',
      `iptables FORWARD policy is DROP and nothing accepts ${cidr}: forwarded pod traffic is dropped`,
      `iptables -I FORWARD -s ${cidr} -j ACCEPT && iptables -I FORWARD -d ${cidr} -j ACCEPT`,
    ),
  ];
};

/**
 * podnet routes pods without a bridge, so bridged traffic never needs iptables here; but a host
 * that bridges pods elsewhere and skips iptables on bridges bypasses service rules.
 */
const bridgeNetfilter: Check = ({ host }) => {
  const v = host.sysctls['net.bridge.bridge-nf-call-iptables'];
  const bridges = host.links.filter((l) => l.kind === 'bridge');
  if (bridges.length === 0 || v === undefined || v === '1') {
    return [
      pass(
        'bridge-nf-call',
        bridges.length === 0
          ? 'no bridges on this host (podnet routes pods, it does not bridge them)'
          : `bridge-nf-call-iptables = ${v ?? 'n/a'}`,
      ),
    ];
  }
  return [
    fail(
      'bridge-nf-call',
      `bridge-nf-call-iptables = ${v} with bridges ${bridges.map((b) => b.ifname).join(', ')}: bridged pod traffic skips service rules`,
      'sysctl -w net.bridge.bridge-nf-call-iptables=1',
    ),
  ];
};

/** A tunnel MTU larger than the underlay allows, or pods larger than the tunnel, black-holes big packets. */
const mtu: Check = ({ host, network, nodeName, nodes }) => {
  const verdicts: Verdict[] = [];
  const tunnel = host.links.find((l) => l.ifname === VXLAN_DEVICE || l.ifname === IPIP_DEVICE);
  if (tunnel) {
    const underlay = host.links.find((l) => l.ifname === tunnel.vxlan?.link) ?? undefined;
    const overhead = tunnel.ifname === VXLAN_DEVICE ? 50 : 20;
    const limit = (underlay?.mtu ?? network.mtu) - overhead;
    verdicts.push(
      tunnel.mtu <= limit
        ? pass(
            'mtu-tunnel',
            `${tunnel.ifname} MTU ${tunnel.mtu} fits the underlay (at most ${limit})`,
          )
        : fail(
            'mtu-tunnel',
            `${tunnel.ifname} MTU ${tunnel.mtu} exceeds underlay MTU minus ${overhead} bytes of encapsulation (${limit})`,
            `ip link set dev ${tunnel.ifname} mtu ${limit}`,
          ),
    );
  }
  const underlay = underlayLink(host, nodeName, nodes);
  // host-gw sends through no tunnel: one it has is kept up only for peers that still send
  // through it while a rollout moves the backend.
  const sendsThrough = tunnel && network.backend !== 'host-gw' ? tunnel : undefined;
  const podLimit = Math.min(
    sendsThrough ? sendsThrough.mtu : Infinity,
    (underlay?.mtu ?? network.mtu) - clusterOverhead(network),
  );
  const tooBig = host.links.filter((l) => POD_VETH.test(l.ifname) && l.mtu > podLimit);
  verdicts.push(
    tooBig.length === 0
      ? pass('mtu-pods', `pod interfaces fit in ${podLimit} bytes`)
      : fail(
          'mtu-pods',
          `pod interfaces ${tooBig.map((l) => `${l.ifname} (${l.mtu})`).join(', ')} exceed the path MTU ${podLimit}`,
          tooBig.map((l) => `ip link set dev ${l.ifname} mtu ${podLimit}`).join(' && '),
        ),
  );
  return verdicts;
};

/** Peers encapsulate to the VTEP MAC a node published; a changed or duplicated one is an outage. */
const vtepMac: Check = ({ host, nodeName, nodes }) => {
  const verdicts: Verdict[] = [];
  const device = host.links.find((l) => l.ifname === VXLAN_DEVICE);
  const self = nodes.find((n) => n.metadata.name === nodeName);
  const published = self?.metadata.annotations?.[ANNOTATION_VTEP_MAC];
  if (device && published && device.address?.toLowerCase() !== published.toLowerCase()) {
    verdicts.push(
      fail(
        'vtep-mac',
        `${VXLAN_DEVICE} has MAC ${device.address} but node ${nodeName} publishes ${published}: peers send to a MAC nobody owns`,
        `ip link set dev ${VXLAN_DEVICE} address ${published}`,
      ),
    );
  }
  const owners = new Map<string, string[]>();
  for (const n of nodes) {
    const mac = n.metadata.annotations?.[ANNOTATION_VTEP_MAC]?.toLowerCase();
    if (mac) owners.set(mac, [...(owners.get(mac) ?? []), n.metadata.name]);
  }
  for (const [mac, names] of owners) {
    if (names.length > 1) {
      verdicts.push(
        fail(
          'vtep-mac',
          `nodes ${names.join(', ')} publish the same VTEP MAC ${mac}`,
          `podnet delete node ${names[names.length - 1]} (its agent publishes a fresh MAC when it rejoins)`,
        ),
      );
    }
  }
  if (verdicts.length === 0) {
    verdicts.push(
      pass(
        'vtep-mac',
        device ? `${VXLAN_DEVICE} MAC ${device.address} matches` : 'no VXLAN device',
      ),
    );
  }
  return verdicts;
};

/** A podnet route to a subnet no node owns any more sends traffic into the void. */
const staleRoutes: Check = ({ host, nodes }) => {
  const subnets = new Set(nodes.map((n) => nodePodCIDR(n)).filter(Boolean));
  const stale = host.podnetRoutes.filter(
    (r) => r.dst.includes('/') && !r.dst.endsWith('/32') && !subnets.has(r.dst),
  );
  if (stale.length === 0)
    return [pass('stale-routes', 'every podnet subnet route belongs to a node')];
  return [
    fail(
      'stale-routes',
      `podnet routes to subnets no node owns: ${stale.map((r) => r.dst).join(', ')}`,
      stale.map((r) => `ip route del ${r.dst} proto 80`).join(' && '),
    ),
  ];
};

/** The agent republishes its sessions at least every minute; older means it is not running. */
const BGP_STATUS_MAX_AGE_SECONDS = 120;

/** With `routing: bgp` a peer that is not Established is a peer whose routes are missing. */
const bgpSessions: Check = ({ network, bgp, nodeName, now = new Date() }) => {
  if (network.routing !== 'bgp') return [];
  const restart = `restart podnet agent on ${nodeName} and read its log`;
  if (!bgp) return [fail('bgp-sessions', 'the agent has published no BGP sessions', restart)];
  const age = Math.round((now.getTime() - Date.parse(bgp.updatedAt)) / 1000);
  if (age > BGP_STATUS_MAX_AGE_SECONDS) {
    return [fail('bgp-sessions', `the agent last published its sessions ${age} s ago`, restart)];
  }
  const down = bgp.peers.filter((p) => p.state !== 'Established');
  const received = bgp.peers.reduce((n, p) => n + p.prefixesReceived, 0);
  if (down.length === 0) {
    return [
      pass(
        'bgp-sessions',
        `${bgp.peers.length} session(s) Established, ${received} prefix(es) received`,
      ),
    ];
  }
  return [
    fail(
      'bgp-sessions',
      `not Established: ${down
        .map(
          (p) =>
            `${p.address} AS ${p.asNumber} (${p.state}${p.lastError ? `: ${p.lastError}` : ''})`,
        )
        .join(', ')}`,
      `check that TCP 179 reaches ${down.map((p) => p.address).join(', ')} and that their AS and peer address for this node match; podnet get bgp -o wide`,
    ),
  ];
};

/** A full conntrack table drops new connections silently. */
const conntrack: Check = ({ host }) => {
  const count = Number(host.sysctls['net.netfilter.nf_conntrack_count']);
  const max = Number(host.sysctls['net.netfilter.nf_conntrack_max']);
  if (!Number.isFinite(count) || !Number.isFinite(max) || max === 0) {
    return [pass('conntrack', 'conntrack table size not readable here')];
  }
  const fill = count / max;
  const detail = `conntrack ${count} of ${max} entries (${(fill * 100).toFixed(1)} %)`;
  return [
    fill < 0.9
      ? pass('conntrack', detail)
      : fail(
          'conntrack',
          `${detail}: new connections are about to be dropped`,
          `sysctl -w net.netfilter.nf_conntrack_max=${max * 2}`,
        ),
  ];
};

/**
 * Each peer this host routes to directly (a host-gw next hop, a VXLAN or IP-in-IP endpoint)
 * may hold a neighbour entry per family. Above gc_thresh2 the kernel prunes entries still in
 * use within 5 s, and at gc_thresh3 it refuses new ones ("neighbour table overflow"): traffic
 * to the peers left out stalls on ARP. The table is one for the whole machine, so the warning
 * comes while the peers need half of the soft limit, before other users' entries tip it.
 */
const neighbourTable: Check = ({ host, nodes, nodeName, network }) => {
  // Through a cloud route table every peer is behind the one VPC gateway.
  if (network.backend === 'cloud') return [];
  const verdicts: Verdict[] = [];
  for (const family of [4, 6] as const) {
    const thresholds = [1, 2, 3].map((i) =>
      Number(host.sysctls[`net.ipv${family}.neigh.default.gc_thresh${i}`]),
    );
    const [, soft, hard] = thresholds;
    const peers = nodes.filter(
      (n) => n.metadata.name !== nodeName && subnetFamilies(n).has(family),
    ).length;
    if (peers === 0 || !thresholds.every((t) => Number.isFinite(t) && t > 0)) continue;
    const check = `neighbour-table-ipv${family}`;
    const detail = `${peers} peers against the IPv${family} neighbour table's gc_thresh1/2/3 ${thresholds.join('/')}`;
    if (peers <= soft! / 2) {
      verdicts.push(pass(check, detail));
      continue;
    }
    const bites =
      peers >= hard!
        ? 'past the hard limit: the kernel refuses new entries and traffic to some peers stalls'
        : peers > soft!
          ? 'past the soft limit: entries in use are pruned, and traffic stalls on ARP while they come back'
          : 'close to the soft limit, where entries in use start being pruned';
    const wanted = suggestedThresholds(peers);
    verdicts.push(
      fail(
        check,
        `${detail}: ${bites}`,
        `sysctl -w ${wanted.map((v, i) => `net.ipv${family}.neigh.default.gc_thresh${i + 1}=${v}`).join(' ')}`,
      ),
    );
  }
  return verdicts;
};

/** The families a node has pod subnets in. */
function subnetFamilies(node: Node): Set<4 | 6> {
  const families = new Set<4 | 6>();
  for (const text of [...(node.spec?.podCIDRs ?? []), nodePodCIDR(node)]) {
    const cidr = text === undefined ? undefined : tryParseCidr(text);
    if (cidr) families.add(cidr.family);
  }
  return families;
}

/**
 * Room for four times the peers below the hard limit, in the kernel defaults' proportions
 * (128/512/1024): gc_thresh1 an eighth of it, gc_thresh2 half.
 */
function suggestedThresholds(peers: number): [number, number, number] {
  let hard = 1024;
  while (hard < peers * 4) hard *= 2;
  return [hard / 8, hard / 2, hard];
}

/** Kernel options each backend and proxy mode cannot work without. */
const kernelFeatures: Check = ({ network, kernelConfig }) => {
  if (!kernelConfig)
    return [pass('kernel-features', 'kernel options not exposed (/proc/config.gz); not checked')];
  const needed: [string, string][] = [];
  const ipip = usesIpip(network.backend, network.autoTunnel);
  if (network.backend === 'vxlan' || (network.backend === 'auto' && !ipip))
    needed.push(['CONFIG_VXLAN', `backend ${network.backend}`]);
  const ipipBpf = ipip && !['y', 'm'].includes(kernelConfig.get('CONFIG_NET_IPIP') ?? '');
  if (ipip && !ipipBpf) needed.push(['CONFIG_NET_IPIP', `backend ${network.backend}`]);
  if (network.proxyMode === 'nftables') needed.push(['CONFIG_NFT_NUMGEN', 'proxy nftables']);
  if (network.proxyMode === 'iptables') {
    needed.push(['CONFIG_NETFILTER_XT_MATCH_STATISTIC', 'proxy iptables']);
    needed.push(['CONFIG_NETFILTER_XT_MATCH_RECENT', 'session affinity']);
  }
  const missing = needed.filter(([opt]) => !['y', 'm'].includes(kernelConfig.get(opt) ?? ''));
  // Without the kernel's module the agent runs IP-in-IP as tc BPF programs on the underlay.
  const bpf = ipipBpf
    ? [
        pass(
          'kernel-features',
          `backend ${network.backend}${network.backend === 'auto' ? ' (autoTunnel ipip)' : ''} runs as tc BPF programs on the underlay (no CONFIG_NET_IPIP)`,
        ),
      ]
    : [];
  if (missing.length === 0) {
    return [...bpf, pass('kernel-features', `kernel has ${needed.map(([o]) => o).join(', ')}`)];
  }
  return [
    ...bpf,
    ...missing.map(([opt, why]) =>
      fail(
        'kernel-features',
        `${why} needs ${opt}, which this kernel lacks`,
        opt === 'CONFIG_NET_IPIP'
          ? 'podnet apply a ClusterNetwork with backend: vxlan (or a kernel built with CONFIG_NET_IPIP)'
          : `use a kernel built with ${opt}`,
      ),
    ),
  ];
};

/** The device holding this node's InternalIP: what its pods' packets leave by. */
function underlayLink(host: HostFacts, nodeName: string, nodes: Node[]) {
  const node = nodes.find((n) => n.metadata.name === nodeName);
  const ip = node && nodeInternalIP(node);
  return ip ? host.links.find((l) => l.addresses?.some((a) => a.startsWith(`${ip}/`))) : undefined;
}

/**
 * The kernel against what the routing reconciler wants here: routes, neighbours, FDB entries,
 * tunnel devices. What other checks report (sysctls, stale routes, MTUs, the VTEP MAC) is
 * left to them.
 */
const kernelState: Check = (input) => {
  if (input.routing && 'error' in input.routing) {
    return [
      fail(
        'kernel-state',
        `cannot work out what routing wants on ${input.nodeName}: ${input.routing.error}`,
        input.routing.fix ??
          `podnet get nodes -o wide (does ${input.nodeName} have a pod subnet and an InternalIP?)`,
      ),
    ];
  }
  const view = routingView(input);
  if (!view) return [];
  const differences = view.changes.filter(
    (c) =>
      c.op !== 'sysctl' &&
      c.op !== 'route-del' &&
      !(c.op === 'link-set' && (c.mac !== undefined || c.mtu !== undefined)),
  );
  if (differences.length === 0) {
    return [
      pass('kernel-state', 'routes, neighbours, FDB entries and devices are as routing wants'),
    ];
  }
  const dead = agentSilence(input, input.nodeName);
  const who = dead
    ? `${dead}: nobody repairs this until it is restarted (${restartAgentFix(input, input.nodeName)})`
    : `the agent on ${input.nodeName} puts this back within its resync period (${view.periodSeconds} s) while it runs`;
  return [
    fail(
      'kernel-state',
      `${differences.map(describeChange).join('; ')}: ${who}`,
      renderCommands(differences).join(' && '),
    ),
  ];
};

/** Every node's agent posting status: a dead one leaves its node's datapath unmaintained. */
const agents: Check = (input) => {
  const dead = input.nodes
    .map((n) => n.metadata.name)
    .map((name) => ({ name, why: agentSilence(input, name) }))
    .filter((d) => d.why !== undefined);
  if (dead.length === 0) {
    return [pass('agents', "every node's agent is posting status")];
  }
  return dead.map((d) =>
    fail(
      'agents',
      `${d.why}: its routes, rules and pods' network are not kept in step until it is restarted`,
      restartAgentFix(input, d.name),
    ),
  );
};

function describeChange(c: Change): string {
  switch (c.op) {
    case 'route-add':
      return `missing route ${c.route.dst}${c.route.gateway ? ` via ${c.route.gateway}` : ''} dev ${c.route.dev}`;
    case 'route-replace':
      return `wrong route to ${c.route.dst} (wanted${c.route.gateway ? ` via ${c.route.gateway}` : ''} dev ${c.route.dev})`;
    case 'route-del':
      return `stray route ${c.route.dst}`;
    case 'neigh-replace':
      return `missing or wrong neighbour ${c.neighbour.ip} → ${c.neighbour.mac} on ${c.neighbour.dev}`;
    case 'neigh-del':
      return `stray neighbour ${c.neighbour.ip} on ${c.neighbour.dev}`;
    case 'fdb-append':
      return `missing FDB entry ${c.entry.mac} → ${c.entry.dst} on ${c.entry.dev}`;
    case 'fdb-del':
      return `stray FDB entry ${c.entry.mac} → ${c.entry.dst} on ${c.entry.dev}`;
    case 'link-add':
      return `missing device ${c.link.name}`;
    case 'link-del':
      return `device ${c.name} is not wanted (or not as routing made it)`;
    case 'link-set':
      return `device ${c.name} is down`;
    case 'addr-add':
      return `missing address ${c.cidr} on ${c.dev}`;
    case 'addr-del':
      return `extra address ${c.cidr} on ${c.dev}`;
    case 'sysctl':
      return `${c.key} = ${c.was ?? 'unset'}, wanted ${c.value}`;
    case 'wg-device':
      return `WireGuard device ${c.name} does not hold this node's key or port ${c.listenPort}`;
    case 'wg-peer-set':
      return `missing or wrong WireGuard peer ${c.peer.publicKey} (${c.peer.endpoint}) on ${c.name}`;
    case 'wg-peer-remove':
      return `stray WireGuard peer ${c.publicKey} on ${c.name}`;
  }
}

/** The Node condition routing sets when its backend cannot reach some peers. */
const peersReachable: Check = ({ nodes, nodeName, network }) => {
  const cond = nodes
    .find((n) => n.metadata.name === nodeName)
    ?.status?.conditions?.find((c) => c.type === NETWORK_UNAVAILABLE);
  if (cond?.status !== 'True') {
    return [
      pass('peers', cond ? (cond.message ?? 'every peer routed') : 'no condition published yet'),
    ];
  }
  const advice = backendAdvice(network.backend);
  return [
    fail(
      'peers',
      `${nodeName} ${cond.message ?? 'cannot route to some peers'}${advice ? `: ${advice}` : ''}`,
      advice
        ? // The agents resize running pods' veths to the new backend's MTU in place.
          `podnet get clusternetwork default -o yaml | sed 's/backend: ${network.backend}/backend: auto/' | podnet apply -f -`
        : `read the agent's log on ${nodeName} (podnet get nodes -o wide shows the condition)`,
    ),
  ];
};

/** With `routing: bgp`, every other node's subnet must have a route BGP installed. */
const bgpRoutes: Check = ({ network, host, nodes, nodeName }) => {
  if (network.routing !== 'bgp') return [];
  const covered = (subnet: string): boolean => {
    const want = tryParseCidr(subnet);
    return host.podnetRoutes.some((r) => {
      const have = tryParseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
      return want !== undefined && have !== undefined && containsCidr(have, want);
    });
  };
  const missing = nodes.filter((n) => {
    const subnet = nodePodCIDR(n);
    return n.metadata.name !== nodeName && subnet && !covered(subnet);
  });
  if (missing.length === 0) {
    return [pass('bgp-routes', "a BGP route to every other node's pod subnet")];
  }
  return [
    fail(
      'bgp-routes',
      `no BGP route to ${missing.map((n) => `${n.metadata.name}'s ${nodePodCIDR(n)}`).join(', ')}`,
      `podnet get bgp -o wide (is each of ${missing.map((n) => n.metadata.name).join(', ')} announcing its subnet, and are the sessions Established?)`,
    ),
  ];
};

/**
 * backend cloud: whether the cloud's route tables carry this node (the route controller's
 * condition names the full table, its count, the quota and the ways out) and whether the
 * node's interface still has its source/destination check on (the VPC then drops pod traffic).
 */
const cloudRoutes: Check = ({ network, nodes, nodeName }) => {
  if (network.backend !== 'cloud') return [];
  const self = nodes.find((n) => n.metadata.name === nodeName);
  const annotations = self?.metadata.annotations ?? {};
  const eni = annotations[ANNOTATION_CLOUD_INTERFACE];
  const verdicts: Verdict[] = [];
  if (annotations[ANNOTATION_CLOUD_SOURCE_DEST_CHECK] === 'on' && eni) {
    verdicts.push(
      fail(
        'cloud-source-dest-check',
        `${eni} has its source/destination check on: the VPC drops every packet to or from this node's pods`,
        `aws ec2 modify-network-interface-attribute --network-interface-id ${eni} --no-source-dest-check`,
      ),
    );
  }
  const placement = annotations[ANNOTATION_CLOUD_ROUTE];
  const condition = self?.status?.conditions?.find((c) => c.type === NETWORK_UNAVAILABLE);
  if (placement === 'refused') {
    verdicts.push(
      fail(
        'cloud-route',
        condition?.message ?? 'no cloud route: the route table is full',
        'raise the AWS route quota and spec.cloud.routeLimit, or set spec.cloud.overflow: vxlan',
      ),
    );
  } else if (placement) {
    verdicts.push(pass('cloud-route', condition?.message ?? `placed ${placement}`));
  }
  return verdicts;
};

/**
 * Which WireGuard runs podnet's device and each peer's last handshake. Informational: a peer
 * nothing was sent to has no handshake, and WireGuard handshakes only when there is traffic.
 */
const wireguard: Check = (input) => {
  const status = routingView(input)?.wireguard;
  if (!status) return [];
  const [summary, ...peers] = describeWireguard(status);
  return [pass('wireguard', [summary, ...peers].join('; '))];
};

/**
 * Offloads the agent keeps (GRO on veths and the underlay, UDP-tunnel segmentation): one off
 * means forwarding and the tunnel handle every segment on its own, at a cost in throughput.
 */
const offloads: Check = ({ offloads: plan }) => {
  if (!plan) return [];
  if ('error' in plan)
    return [fail('offloads', `cannot read: ${plan.error}`, plan.fix ?? 'ethtool -k <device>')];
  const unsupported = plan.unsupported.length
    ? `; not offered by the driver: ${plan.unsupported.map((w) => `${w.dev} ${w.feature}`).join(', ')}`
    : '';
  if (plan.changes.length === 0) {
    return [
      pass('offloads', `${describeSettled(plan.settled) || 'nothing to keep'}${unsupported}`),
    ];
  }
  const off = plan.changes.flatMap((c) => Object.keys(c.features).map((f) => `${c.dev} ${f}`));
  return [
    fail(
      'offloads',
      `off where the agent keeps them on: ${off.join(', ')} (its next reconcile turns them on)`,
      offloadCommands(plan.changes).join('; '),
    ),
  ];
};

/** `datapath: ebpf` runs where its programs are attached; `kernel` leaves none attached. */
const ebpfDatapath: Check = (input) => {
  const devices = input.datapathDevices;
  if (!devices || 'error' in devices) return [];
  const ebpf = input.network.datapath === 'ebpf';
  const attached = devices.pod.length + devices.underlay.length;
  if (ebpf && devices.underlay.length > 0) {
    const on = `${devices.underlay.join(', ')} and ${devices.pod.length} pod veth(s)`;
    return [pass('ebpf-datapath', `tc programs on ${on}`)];
  }
  if (ebpf) {
    return [
      fail(
        'ebpf-datapath',
        "datapath ebpf, but no program is attached to the underlay: this host's pods use the kernel path",
        `read errors["ebpf-datapath"] in the agent's /healthz on ${input.nodeName} (its metrics address): it says why`,
      ),
    ];
  }
  const open = input.datapathTranslationsOpen ?? 0;
  if (attached > 0 && open > 0) {
    return [
      pass(
        'ebpf-datapath',
        `datapath kernel, draining: the programs stay on ${attached} device(s) for ${open / 2} service connection(s) they translated, and come off once those close or idle 15 min`,
      ),
    ];
  }
  if (attached > 0) {
    return [
      fail(
        'ebpf-datapath',
        `datapath kernel, but the eBPF programs are still attached to ${attached} device(s)`,
        `the agent on ${input.nodeName} takes them off on its next pass: is it running?`,
      ),
    ];
  }
  return [];
};

const CHECKS: Check[] = [
  agents,
  ipForward,
  rpFilter,
  kernelState,
  peersReachable,
  bgpRoutes,
  forwardPolicy,
  bridgeNetfilter,
  mtu,
  offloads,
  vtepMac,
  staleRoutes,
  bgpSessions,
  conntrack,
  neighbourTable,
  kernelFeatures,
  cloudRoutes,
  wireguard,
  ebpfDatapath,
];

export function diagnoseHost(input: DoctorInput): Verdict[] {
  return CHECKS.flatMap((check) => check(input));
}
