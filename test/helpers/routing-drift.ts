// Keeps the fake routing host honest against real kernels (integration tests, as root): a
// fresh reconciler runs once against a fake host shaped like the real one (same underlay, and
// the same routes someone else made), and what it leaves there must be what the long-running
// reconciler left in the kernel — read with `ip -j` and `bridge -j` here, not with the
// reconciler's own reader, so a mistake in that reader cannot hide a difference.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { PODNET_DEVICES, reconcileHost, type HostInput } from '../../src/routing/reconcile.js';
import type { ReconcileResult } from '../../src/routing/reconcile.js';
import type { ActualLink, Route } from '../../src/kernel/netobjects.js';
import { FakeRoutingKernel } from './fake-routing.js';

/** Routing's objects on one host, in an order that does not depend on how they were made. */
interface RoutingView {
  routes: string[];
  links: Record<string, unknown>[];
  neighbours: string[];
  fdb: string[];
  sysctls: Record<string, string>;
}

interface IpLink {
  ifname: string;
  mtu: number;
  address?: string;
  flags?: string[];
  addr_info?: { family: string; local: string; prefixlen: number }[];
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

function ipJson<T>(ns: string, argv: string[]): T {
  const out = execFileSync(argv[0]!, ['-n', ns, '-j', ...argv.slice(1)], { encoding: 'utf8' });
  return JSON.parse(out.trim() || '[]') as T;
}

const routeText = (r: Route): string =>
  `${r.dst} via ${r.gateway} dev ${r.dev}${r.onlink ? ' onlink' : ''}`;

function linkView(l: ActualLink): Record<string, unknown> {
  return {
    name: l.name,
    kind: l.kind,
    mtu: l.mtu,
    up: l.up,
    addresses: [...l.addresses].sort(),
    // Only a VXLAN device's MAC is podnet's choice (its VTEP MAC); the kernel picks the rest.
    ...(l.vxlan ? { mac: l.mac.toLowerCase(), vxlan: l.vxlan } : {}),
    ...(l.ipip ? { ipip: l.ipip } : {}),
  };
}

function kernelView(ns: string, sysctlKeys: string[]): RoutingView {
  const owned = new Set<string>(PODNET_DEVICES);
  // Routing's routes are the proto 80 ones with a next hop; the pods' own host routes
  // (`POD/32 dev VETH`) carry the same protocol and belong to the CNI plugin.
  const routes = ipJson<{ dst: string; gateway?: string; dev: string; flags?: string[] }[]>(ns, [
    'ip',
    'route',
    'show',
    'proto',
    '80',
  ])
    .filter((r) => r.gateway)
    .map((r) =>
      routeText({
        dst: r.dst.includes('/') ? r.dst : `${r.dst}/32`,
        gateway: r.gateway!,
        dev: r.dev,
        onlink: r.flags?.includes('onlink') ?? false,
      }),
    );
  const links = ipJson<IpLink[]>(ns, ['ip', '-d', 'addr', 'show'])
    .filter((l) => owned.has(l.ifname))
    .map((l) => {
      const kind = l.linkinfo?.info_kind ?? '';
      const data = l.linkinfo?.info_data ?? {};
      return linkView({
        name: l.ifname,
        kind,
        mtu: l.mtu,
        mac: l.address ?? '',
        up: l.flags?.includes('UP') ?? false,
        addresses: (l.addr_info ?? [])
          .filter((a) => a.family === 'inet')
          .map((a) => `${a.local}/${a.prefixlen}`),
        vxlan:
          kind === 'vxlan'
            ? {
                vni: data.id as number,
                port: data.port as number,
                local: data.local as string,
                underlayDev: data.link as string,
                learning: data.learning as boolean,
              }
            : undefined,
        ipip: kind === 'ipip' ? { local: data.local as string } : undefined,
      });
    });
  const neighbours = ipJson<{ dst: string; dev: string; lladdr?: string }[]>(ns, [
    'ip',
    'neigh',
    'show',
    'nud',
    'permanent',
  ])
    .filter((n) => owned.has(n.dev))
    .map((n) => `${n.dev} ${n.dst} ${n.lladdr?.toLowerCase()}`);
  const fdb = links
    .filter((l) => l.kind === 'vxlan')
    .flatMap((l) =>
      ipJson<{ mac: string; dst?: string }[]>(ns, ['bridge', 'fdb', 'show', 'dev', `${l.name}`])
        .filter((e) => e.dst)
        .map((e) => `${String(l.name)} ${e.mac.toLowerCase()} ${e.dst}`),
    );
  const sysctls: Record<string, string> = {};
  for (const key of sysctlKeys) {
    sysctls[key] = execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', key], {
      encoding: 'utf8',
    }).trim();
  }
  return sortView({ routes, links, neighbours, fdb, sysctls });
}

async function fakeView(fake: FakeRoutingKernel, sysctlKeys: string[]): Promise<RoutingView> {
  const values = await fake.readSysctls(sysctlKeys);
  const sysctls: Record<string, string> = {};
  for (const key of sysctlKeys) sysctls[key] = values[key] ?? '(unset)';
  return sortView({
    routes: fake.routes.map(routeText),
    links: [...fake.links.values()].filter((l) => PODNET_DEVICES.includes(l.name)).map(linkView),
    neighbours: fake.neighbours.map((n) => `${n.dev} ${n.ip} ${n.mac.toLowerCase()}`),
    fdb: fake.fdb.map((f) => `${f.dev} ${f.mac.toLowerCase()} ${f.dst}`),
    sysctls,
  });
}

function sortView(v: RoutingView): RoutingView {
  return {
    ...v,
    routes: [...v.routes].sort(),
    links: [...v.links].sort((a, b) => String(a.name).localeCompare(String(b.name))),
    neighbours: [...v.neighbours].sort(),
    fdb: [...v.fdb].sort(),
  };
}

/** A fake host with namespace `ns`'s underlay (the device holding `nodeIP`, with its MTU). */
function fakeLike(ns: string, nodeIP: string): FakeRoutingKernel {
  for (const l of ipJson<IpLink[]>(ns, ['ip', 'addr', 'show'])) {
    const a = l.addr_info?.find((x) => x.family === 'inet' && x.local === nodeIP);
    if (a) {
      return new FakeRoutingKernel({
        dev: l.ifname,
        address: nodeIP,
        prefixLength: a.prefixlen,
        mtu: l.mtu,
      });
    }
  }
  throw new Error(`no interface in ${ns} holds ${nodeIP}`);
}

/**
 * What a fresh reconcile of `input` makes of a fake copy of the host equals what is in the
 * kernel of `ns`, and it fails exactly when the real host's last reconcile (`real`) failed.
 * `foreignRoutes` are routes someone else put in that kernel.
 */
export async function assertRoutingMatchesKernel(
  input: HostInput,
  host: { ns: string; ip: string },
  real: ReconcileResult | Error | undefined,
  foreignRoutes: Route[] = [],
): Promise<void> {
  const fake = fakeLike(host.ns, host.ip);
  fake.foreignRoutes = foreignRoutes.map((r) => ({ ...r }));
  const fresh = await reconcileHost(input, fake).then(
    (r) => r,
    (err: Error) => err,
  );
  assert.equal(
    fresh instanceof Error,
    real instanceof Error,
    `${input.selfName}: the fake's reconcile ${fresh instanceof Error ? `failed (${fresh.message})` : 'succeeded'}, the kernel's ${real instanceof Error ? `failed (${real.message})` : 'succeeded'}`,
  );
  // The keys a reconcile sets: those its desired state names (read back from the fake's run).
  const keys = fresh instanceof Error ? [] : fresh.desired.sysctls.map((s) => s.key);
  assert.deepEqual(
    await fakeView(fake, keys),
    kernelView(host.ns, keys),
    `${input.selfName}: the fake routing host differs from the kernel in ${host.ns}`,
  );
}
