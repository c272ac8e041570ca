// The kernel objects routing is made of, as plain data: what the desired state is built
// from, what the kernel reader returns, and what the writer and the recorder turn into
// `ip`/`bridge`/`sysctl` commands.

/** Route protocol number that marks every route podnet installs: only those are ever changed. */
export const PODNET_ROUTE_PROTO = 80;

/** A route in the main table. `onlink` tells the kernel the gateway is reachable on `dev`. */
export interface Route {
  dst: string;
  gateway: string;
  dev: string;
  onlink: boolean;
  /** The path MTU of the route, where it is below the device's (encapsulated in BPF). */
  mtu?: number;
}

/**
 * One IP-in-IP peer as the tc BPF programs see it: packets for `podCIDR` get an outer header
 * from `local` to `remote`, and protocol-4 packets from `remote` are decapsulated.
 */
export interface IpipTunnel {
  podCIDR: string;
  remote: string;
  local: string;
}

/** A permanent neighbour (ARP) entry. */
export interface Neighbour {
  dev: string;
  ip: string;
  mac: string;
}

/** A permanent VXLAN forwarding entry: frames for `mac` go to the VTEP at `dst`. */
export interface FdbEntry {
  dev: string;
  mac: string;
  dst: string;
}

export interface VxlanLink {
  kind: 'vxlan';
  name: string;
  vni: number;
  port: number;
  /** The node IP: outer source address. */
  local: string;
  /** The underlay interface the tunnel sends through. */
  underlayDev: string;
  /** Always false: peers are programmed, never learned. */
  learning: boolean;
  mtu: number;
  mac: string;
  /** CIDRs on the device, e.g. the node subnet's network address as a /32. */
  addresses: string[];
}

export interface IpipLink {
  kind: 'ipip';
  name: string;
  local: string;
  mtu: number;
  addresses: string[];
}

/** A WireGuard peer: another host, reached at its node address, owning its pod subnet. */
export interface WireguardPeer {
  publicKey: string;
  /** `address:port` (`[address]:port` for IPv6), as `wg` prints it. */
  endpoint: string;
  allowedIPs: string[];
}

/**
 * A WireGuard device: the kernel's (`ip link add type wireguard`) or, where the kernel has
 * none, `wireguard-go` over TUN. Either is configured with `wg` in the same way.
 */
export interface WireguardLink {
  kind: 'wireguard';
  name: string;
  userspace: boolean;
  mtu: number;
  addresses: string[];
  listenPort: number;
  /** The public key of the private key in `privateKeyFile`: the device holds that key. */
  publicKey: string;
  privateKeyFile: string;
  peers: WireguardPeer[];
}

export type TunnelLink = VxlanLink | IpipLink | WireguardLink;

/** A WireGuard device as `wg show dump` reports it. */
export interface ActualWireguard {
  /** Absent while the device has no private key. */
  publicKey?: string;
  listenPort: number;
  peers: (WireguardPeer & {
    /** Seconds since the epoch of the last handshake; 0: never. */
    latestHandshake: number;
    rxBytes: number;
    txBytes: number;
  })[];
}

/** A link as the kernel reports it (only the fields routing compares). */
export interface ActualLink {
  name: string;
  kind: string;
  mtu: number;
  mac: string;
  up: boolean;
  addresses: string[];
  vxlan?: { vni: number; port: number; local: string; underlayDev?: string; learning: boolean };
  ipip?: { local: string };
  wireguard?: ActualWireguard;
}

/** The underlay: the interface holding the node IP, its subnet and MTU. */
export interface Underlay {
  dev: string;
  address: string;
  prefixLength: number;
  mtu: number;
  /** The gateway of the default route through the underlay device, if it has one. */
  gateway?: string;
  /** The device's global IPv6 address and prefix length, where the underlay carries IPv6. */
  ipv6?: { address: string; prefixLength: number };
}

/** What the kernel has of the objects routing owns or depends on. */
export interface ActualState {
  /** Routes with podnet's protocol number, main table. */
  routes: Route[];
  /** podnet's tunnel devices that exist. */
  links: ActualLink[];
  /** Permanent neighbours on podnet's devices. */
  neighbours: Neighbour[];
  /** FDB entries with a destination on podnet's devices. */
  fdb: FdbEntry[];
  /** Sysctl values by key (missing: the key does not exist yet). */
  sysctls: Record<string, string>;
}

/** One change to the kernel, in the order it must be applied. */
export type Change =
  | { op: 'link-add'; link: TunnelLink }
  | { op: 'link-set'; name: string; mtu?: number; mac?: string; up: boolean }
  | { op: 'link-del'; name: string }
  | { op: 'addr-add' | 'addr-del'; dev: string; cidr: string }
  | { op: 'fdb-append' | 'fdb-del'; entry: FdbEntry }
  | { op: 'neigh-replace' | 'neigh-del'; neighbour: Neighbour }
  | { op: 'route-add' | 'route-replace' | 'route-del'; route: Route }
  | { op: 'sysctl'; key: string; value: string; was?: string }
  | { op: 'wg-device'; name: string; privateKeyFile: string; listenPort: number }
  | { op: 'wg-peer-set'; name: string; peer: WireguardPeer }
  | { op: 'wg-peer-remove'; name: string; publicKey: string };
