// Reads what the kernel has of routing's objects, in a fixed number of programs whatever the
// size of the cluster: one `ip -j -batch` (podnet routes, links with addresses, permanent
// neighbours), one `bridge -j fdb show` per podnet VXLAN device, one `sysctl` for the keys.
import type {
  ActualLink,
  ActualState,
  FdbEntry,
  Neighbour,
  Route,
  Underlay,
} from './netobjects.js';
import { PODNET_ROUTE_PROTO } from './netobjects.js';
import { run } from '../process/run.js';
import { runIproute } from './iproute.js';
import { OperationError } from '../util/errors.js';
import { tryParseIP } from '../net/index.js';
import { readWireguard, type WireguardRunOptions } from './wireguard.js';

export interface ReadOptions {
  netns?: string;
  /** podnet's device names: only these links, and neighbours/FDB on them, are read. */
  devices: readonly string[];
  /** The node IP, to find the underlay interface. */
  nodeIP: string;
  /** Where `wg` finds a userspace device's control socket. */
  wireguard?: WireguardRunOptions;
}

export interface HostState {
  /** Everything but the sysctls, which depend on the underlay's name (see readSysctls). */
  actual: Omit<ActualState, 'sysctls'>;
  /** The interface holding the node IP, if it has one. */
  underlay?: Underlay;
}

export interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  flags?: string[];
  metrics?: { mtu?: number }[];
  /** Absent for the main table. */
  table?: string;
}

interface IpLink {
  ifname: string;
  mtu: number;
  address?: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; port?: number; local?: string; link?: string; learning?: boolean };
  };
}

interface IpNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
}

interface BridgeFdb {
  mac: string;
  dst?: string;
}

export async function readHostState(opts: ReadOptions): Promise<HostState> {
  const { stdout } = await runIproute('ip', ['-j', '-d', '-batch', '-'], {
    netns: opts.netns,
    // `table all` lists both families (a plain `route show` lists IPv4 only); routing's
    // routes are the main table's.
    input: `route show table all proto ${PODNET_ROUTE_PROTO}\naddr show\nneigh show nud permanent\nroute show default\n`,
  });
  const [routesJson, linksJson, neighJson, defaultsJson] = stdout.trim().split('\n');
  const routes = routingRoutes(parse<IpRoute[]>(routesJson, 'ip route show'));
  const allLinks = parse<IpLink[]>(linksJson, 'ip addr show');
  const owned = new Set(opts.devices);
  const links = allLinks.filter((l) => owned.has(l.ifname)).map(toLink);
  const neighbours: Neighbour[] = parse<IpNeigh[]>(neighJson, 'ip neigh show')
    .filter((n) => owned.has(n.dev) && n.lladdr)
    .map((n) => ({ dev: n.dev, ip: n.dst, mac: n.lladdr!.toLowerCase() }));

  const fdb: FdbEntry[] = [];
  for (const link of links.filter((l) => l.kind === 'vxlan')) {
    const entries = JSON.parse(
      (await runIproute('bridge', ['-j', 'fdb', 'show', 'dev', link.name], { netns: opts.netns }))
        .stdout || '[]',
    ) as BridgeFdb[];
    for (const e of entries) {
      if (e.dst) fdb.push({ dev: link.name, mac: e.mac.toLowerCase(), dst: e.dst });
    }
  }

  // A podnet device of kind wireguard (the kernel's) or tun (wireguard-go's) is WireGuard.
  for (const link of links.filter((l) => l.kind === 'wireguard' || l.kind === 'tun')) {
    link.wireguard = await readWireguard(link.name, { ...opts.wireguard, netns: opts.netns });
  }

  return {
    actual: { routes, links, neighbours, fdb },
    underlay: findUnderlay(allLinks, opts.nodeIP, parse<IpRoute[]>(defaultsJson, 'ip route show')),
  };
}

function parse<T>(line: string | undefined, what: string): T {
  try {
    return JSON.parse(line ?? '[]') as T;
  } catch (err) {
    throw new OperationError(`could not read the output of ${what}`, { cause: err });
  }
}

/**
 * Routing's own routes among the kernel's `proto 80` routes: those with a next hop (every
 * backend routes a peer's pod subnet via a gateway). The CNI plugin marks its per-pod host
 * routes (`POD/32 dev VETH scope link`) with the same protocol; they belong to the pods, and
 * a reconcile that took them for stale routes would try to remove them, and with no next hop
 * to name would fail on every run that reads the kernel, on every host with a pod.
 */
export function routingRoutes(routes: readonly IpRoute[]): Route[] {
  return routes
    .filter((r) => r.gateway !== undefined && r.gateway !== '')
    .filter((r) => r.table === undefined || r.table === 'main')
    .map(toRoute);
}

function toRoute(r: IpRoute): Route {
  const mtu = r.metrics?.find((m) => m.mtu !== undefined)?.mtu;
  return {
    dst: r.dst.includes('/') ? r.dst : `${r.dst}/${tryParseIP(r.dst)?.family === 6 ? 128 : 32}`,
    gateway: r.gateway ?? '',
    dev: r.dev ?? '',
    onlink: r.flags?.includes('onlink') ?? false,
    ...(mtu === undefined ? {} : { mtu }),
  };
}

function toLink(l: IpLink): ActualLink {
  const kind = l.linkinfo?.info_kind ?? '';
  const data = l.linkinfo?.info_data ?? {};
  return {
    name: l.ifname,
    kind,
    mtu: l.mtu,
    mac: (l.address ?? '').toLowerCase(),
    up: l.flags?.includes('UP') ?? false,
    // IPv6 link-local addresses are the kernel's own on every device, never podnet's.
    addresses: (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' || (a.family === 'inet6' && a.scope === 'global'))
      .map((a) => `${a.local}/${a.prefixlen}`),
    vxlan:
      kind === 'vxlan'
        ? {
            vni: data.id ?? -1,
            port: data.port ?? -1,
            local: data.local ?? '',
            underlayDev: data.link,
            learning: data.learning ?? true,
          }
        : undefined,
    ipip: kind === 'ipip' ? { local: data.local ?? '' } : undefined,
  };
}

function findUnderlay(
  links: IpLink[],
  nodeIP: string,
  defaults: readonly IpRoute[],
): Underlay | undefined {
  for (const link of links) {
    const addr = link.addr_info?.find((a) => a.family === 'inet' && a.local === nodeIP);
    if (addr) {
      const gateway = defaults.find((r) => r.dev === link.ifname && r.gateway)?.gateway;
      const ipv6 = link.addr_info?.find((a) => a.family === 'inet6' && a.scope === 'global');
      return {
        ...(ipv6 ? { ipv6: { address: ipv6.local, prefixLength: ipv6.prefixlen } } : {}),
        dev: link.ifname,
        address: nodeIP,
        prefixLength: addr.prefixlen,
        mtu: link.mtu,
        ...(gateway === undefined ? {} : { gateway }),
      };
    }
  }
  return undefined;
}

/** Values of the keys that exist; a key of a device not created yet is simply absent. */
export async function readSysctls(
  keys: readonly string[],
  netns?: string,
): Promise<Record<string, string>> {
  if (keys.length === 0) return {};
  const { stdout } = await run(['sysctl', '-e', ...keys], {
    netns,
    okCodes: [255],
  });
  const values: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) = (.*)$/.exec(line);
    if (m) values[m[1]!] = m[2]!;
  }
  return values;
}
