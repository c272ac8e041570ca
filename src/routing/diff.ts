// Desired against actual: the smallest list of changes, in the order they are safe to apply.
// Only podnet-owned objects ever appear: routes with podnet's protocol number, podnet's
// devices, and neighbour/FDB entries on those devices (the reader sees nothing else).
//
// Order: devices first; then FDB and neighbours, so a new route never makes the kernel ARP;
// then routes added or replaced in place (a backend switch swaps each route atomically, but
// for an IPv6 VXLAN route the kernel will not take in place: deleted, then added);
// only then what is no longer wanted, and the sysctls last, once every device exists.
import type {
  ActualLink,
  ActualState,
  Change,
  FdbEntry,
  Neighbour,
  Route,
  TunnelLink,
} from '../kernel/netobjects.js';
import { containsIP, tryParseCidr, tryParseIP } from '../net/index.js';
import type { DesiredState, SysctlWant } from './desired.js';
import { diffWireguard } from './wireguard-diff.js';

export function diffState(desired: DesiredState, actual: ActualState): Change[] {
  const changes: Change[] = [];
  const actualLinks = new Map(actual.links.map((l) => [l.name, l]));
  const wantedLinks = new Set(desired.links.map((l) => l.name));
  // Devices whose old contents are gone: recreated here, or about to be deleted.
  const fresh = new Set<string>();
  const leaving = new Set(actual.links.filter((l) => !wantedLinks.has(l.name)).map((l) => l.name));

  for (const link of desired.links) {
    let have = actualLinks.get(link.name);
    if (have && !sameTunnel(link, have)) {
      changes.push({ op: 'link-del', name: link.name });
      have = undefined;
    }
    if (!have) {
      fresh.add(link.name);
      changes.push({ op: 'link-add', link });
      for (const cidr of link.addresses) changes.push({ op: 'addr-add', dev: link.name, cidr });
      if (link.kind === 'wireguard') changes.push(...diffWireguard(link, undefined));
      continue;
    }
    changes.push(...linkSettings(link, have));
    for (const cidr of link.addresses) {
      if (!have.addresses.includes(cidr)) changes.push({ op: 'addr-add', dev: link.name, cidr });
    }
    for (const cidr of have.addresses) {
      if (!link.addresses.includes(cidr)) changes.push({ op: 'addr-del', dev: link.name, cidr });
    }
    if (link.kind === 'wireguard') changes.push(...diffWireguard(link, have.wireguard));
  }

  const live = <T extends { dev: string }>(items: T[]): T[] =>
    items.filter((i) => !fresh.has(i.dev) && !leaving.has(i.dev));

  const haveFdb = new Set(live(actual.fdb).map(fdbKey));
  const wantFdb = new Set(desired.fdb.map(fdbKey));
  for (const entry of desired.fdb) {
    if (!haveFdb.has(fdbKey(entry))) changes.push({ op: 'fdb-append', entry });
  }
  for (const entry of live(actual.fdb)) {
    if (!wantFdb.has(fdbKey(entry))) changes.push({ op: 'fdb-del', entry });
  }

  const haveNeigh = new Map(live(actual.neighbours).map((n) => [neighKey(n), n]));
  for (const neighbour of desired.neighbours) {
    if (haveNeigh.get(neighKey(neighbour))?.mac !== neighbour.mac) {
      changes.push({ op: 'neigh-replace', neighbour });
    }
  }

  // A route through a device that is (re)created now was removed with the old device.
  const haveRoutes = new Map(actual.routes.filter((r) => !fresh.has(r.dev)).map((r) => [r.dst, r]));
  const wantRoutes = new Set(desired.routes.map((r) => r.dst));
  for (const route of desired.routes) {
    const have = haveRoutes.get(route.dst);
    if (!have) changes.push({ op: 'route-add', route });
    else if (sameRoute(route, have)) continue;
    else if (gatewayBehindOldRoute(route, have)) {
      changes.push({ op: 'route-del', route: have }, { op: 'route-add', route });
    } else changes.push({ op: 'route-replace', route });
  }
  for (const route of haveRoutes.values()) {
    if (!wantRoutes.has(route.dst)) changes.push({ op: 'route-del', route });
  }

  const wantNeigh = new Set(desired.neighbours.map(neighKey));
  for (const neighbour of live(actual.neighbours)) {
    if (!wantNeigh.has(neighKey(neighbour))) changes.push({ op: 'neigh-del', neighbour });
  }
  for (const name of leaving) changes.push({ op: 'link-del', name });

  for (const want of desired.sysctls) {
    const change = sysctlChange(want, actual.sysctls);
    if (change) changes.push(change);
  }
  return changes;
}

/** Whether the device can stay: the attributes the kernel cannot change in place match. */
function sameTunnel(link: TunnelLink, have: ActualLink): boolean {
  if (link.kind !== have.kind && link.kind !== 'wireguard') return false;
  if (link.kind === 'ipip') return have.ipip?.local === link.local;
  // wireguard-go's device is a TUN device; a kernel that gains WireGuard gets its own device.
  if (link.kind === 'wireguard') return have.kind === (link.userspace ? 'tun' : 'wireguard');
  const v = have.vxlan;
  return (
    v !== undefined &&
    v.vni === link.vni &&
    v.port === link.port &&
    v.local === link.local &&
    v.underlayDev === link.underlayDev &&
    v.learning === link.learning
  );
}

function linkSettings(link: TunnelLink, have: ActualLink): Change[] {
  const mtu = have.mtu !== link.mtu ? link.mtu : undefined;
  const mac = link.kind === 'vxlan' && have.mac !== link.mac ? link.mac : undefined;
  if (mtu === undefined && mac === undefined && have.up) return [];
  return [{ op: 'link-set', name: link.name, mtu, mac, up: true }];
}

/**
 * The kernel checks an IPv6 onlink gateway against the routes already there, so it refuses to
 * replace in place a route whose gateway lies inside its own destination (pn-vxlan6's, via the
 * peer subnet's first address) while the old route sends that destination to another device:
 * such a switch (host-gw to VXLAN) deletes the old route and then adds the new one.
 */
function gatewayBehindOldRoute(route: Route, have: Route): boolean {
  if (!route.onlink || route.gateway === undefined || route.dev === have.dev) return false;
  const dst = tryParseCidr(route.dst);
  const gateway = tryParseIP(route.gateway);
  return dst?.family === 6 && gateway !== undefined && containsIP(dst, gateway);
}

function sameRoute(a: Route, b: Route): boolean {
  return a.gateway === b.gateway && a.dev === b.dev && a.onlink === b.onlink && a.mtu === b.mtu;
}

function fdbKey(e: FdbEntry): string {
  return `${e.dev} ${e.mac} ${e.dst}`;
}

function neighKey(n: Neighbour): string {
  return `${n.dev} ${n.ip}`;
}

const RP_FILTER_STRICT = 1;

function sysctlChange(want: SysctlWant, values: Record<string, string>): Change | undefined {
  const was = values[want.key];
  if (want.looseRpFilter) {
    // The kernel applies max(conf.all, conf.<dev>); a missing device starts from conf.default.
    const dev = Number(was ?? values['net.ipv4.conf.default.rp_filter'] ?? 0);
    const all = Number(values['net.ipv4.conf.all.rp_filter'] ?? 0);
    if (Math.max(dev, all) !== RP_FILTER_STRICT) return undefined;
  } else if (was === want.value) {
    return undefined;
  }
  return { op: 'sysctl', key: want.key, value: want.value, was };
}
