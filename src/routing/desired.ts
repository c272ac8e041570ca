// The desired state of one host: every kernel object it needs to reach every peer's pods,
// built by the backend chosen for the cluster. Pure: nodes in, plain data out.
import type {
  FdbEntry,
  IpipTunnel,
  Neighbour,
  Route,
  TunnelLink,
  Underlay,
} from '../kernel/netobjects.js';
import type { Host } from './peers.js';
import type { AutoTunnel } from '../api/types.js';

/** A sysctl this host needs. `looseRpFilter`: any value whose effect is not strict will do. */
export interface SysctlWant {
  key: string;
  value: string;
  looseRpFilter?: boolean;
}

/** A peer this host cannot route to, and why (for logs and the Node's condition). */
export interface PeerProblem {
  peer: string;
  reason: string;
}

export interface DesiredState {
  /** podnet's tunnel devices that must exist; any other podnet device is removed. */
  links: TunnelLink[];
  routes: Route[];
  neighbours: Neighbour[];
  fdb: FdbEntry[];
  sysctls: SysctlWant[];
  problems: PeerProblem[];
  /** IP-in-IP peers for the tc BPF programs on the underlay (absent: no BPF IP-in-IP). */
  ipipTunnels?: IpipTunnel[];
}

export interface BackendInput {
  self: Host;
  peers: readonly Host[];
  underlay: Underlay;
  /** This node's VXLAN device MAC (stable across restarts). */
  vtepMac: string;
  /** This node's WireGuard key (absent until it has one) and which device it runs. */
  wireguard?: WireguardSelf;
  /** IP-in-IP is done by tc BPF programs on the underlay: the kernel has no ipip device. */
  ipipBpf?: boolean;
  /** ClusterNetwork spec.autoTunnel: what `auto` reaches peers that are not on-link through. */
  autoTunnel?: AutoTunnel;
}

export interface WireguardSelf {
  publicKey: string;
  /** Where the agent keeps the private key; `wg` reads it from there. */
  privateKeyFile: string;
  /** wireguard-go over TUN, where the kernel has no WireGuard. */
  userspace: boolean;
}

/** A way of reaching peers (flannel's backend idea): found by name, one module each. */
export interface BackendDriver {
  readonly name: string;
  /** Kernel support the backend needs, checked before anything is programmed. */
  readonly needs?: 'ipip';
  desired(input: BackendInput): DesiredState;
}

export function emptyState(): DesiredState {
  return { links: [], routes: [], neighbours: [], fdb: [], sysctls: [], problems: [] };
}

/**
 * What every backend needs from the host: forwarding on, and reverse-path filtering loose on
 * the underlay and the tunnels — during a backend switch a peer may already send directly
 * while this host still routes back through the tunnel (or the other way round), and strict
 * rp_filter would drop those packets.
 */
export function hostSysctls(underlay: Underlay, links: readonly TunnelLink[]): SysctlWant[] {
  return [
    { key: 'net.ipv4.ip_forward', value: '1' },
    ...[underlay.dev, ...links.map((l) => l.name)].map((dev) => ({
      key: `net.ipv4.conf.${dev}.rp_filter`,
      value: '2',
      looseRpFilter: true,
    })),
  ];
}
