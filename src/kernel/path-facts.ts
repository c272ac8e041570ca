// Kernel lookups `podnet trace` needs along one path: the kernel's own route decision
// (`ip route get`, which also applies rp_filter when given the incoming device), the VXLAN
// neighbour and FDB entries behind a tunnel hop, and the listings that show whether a service's
// rule is programmed (whose names the proxy gives).
import { tryParseIP, type Family } from '../net/index.js';
import { run, runJson } from '../process/run.js';

export interface RouteDecision {
  ok: boolean;
  dst?: string;
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  /** The kernel's refusal, e.g. `Invalid cross-device link` when rp_filter drops. */
  error?: string;
}

export async function routeGet(
  netns: string | undefined,
  dst: string,
  from?: { src: string; iif: string },
): Promise<RouteDecision> {
  const argv = ['ip', '-j', 'route', 'get', dst];
  if (from) argv.push('from', from.src, 'iif', from.iif);
  const r = await run(argv, { netns, okCodes: [1, 2] });
  if (r.code !== 0)
    return { ok: false, error: r.stderr.trim().replace(/^RTNETLINK answers: /, '') };
  const [route] = JSON.parse(r.stdout) as RouteDecision[];
  return { ...route, ok: true };
}

export interface TunnelHop {
  /** MAC the gateway resolves to on the tunnel device (a permanent neighbour entry). */
  mac?: string;
  /** Outer destination: the FDB entry for that MAC. */
  outerDst?: string;
}

export async function vxlanHop(
  netns: string | undefined,
  gateway: string,
  dev: string,
): Promise<TunnelHop> {
  const neigh = await runJson<{ dst: string; lladdr?: string }[]>(
    ['ip', '-j', 'neigh', 'show', 'to', gateway, 'dev', dev],
    { netns },
  );
  const mac = neigh[0]?.lladdr;
  if (!mac) return {};
  const fdb = await runJson<{ mac: string; dst?: string }[]>(
    ['bridge', '-j', 'fdb', 'show', 'dev', dev],
    {
      netns,
    },
  );
  return { mac, outerDst: fdb.find((f) => f.mac === mac && f.dst)?.dst };
}

/** One table as `iptables-save -t TABLE` (`ip6tables-save` for IPv6) prints it. */
export async function iptablesTableText(
  netns: string | undefined,
  table: string,
  family: Family = 4,
): Promise<string> {
  const save = family === 4 ? 'iptables-save' : 'ip6tables-save';
  return (await run([save, '-t', table], { netns })).stdout;
}

/** One nft set or map as `nft list map` prints it; empty when it (or its table) is missing. */
export async function nftMapText(
  netns: string | undefined,
  family: string,
  table: string,
  map: string,
): Promise<string> {
  const r = await run(['nft', 'list', 'map', family, table, map], { netns, okCodes: [1] });
  return r.code === 0 ? r.stdout : '';
}

/**
 * Asks the cluster DNS for each candidate name in turn, from `netns`, for its `type` record (A
 * or AAAA); the first address of that record's family wins.
 */
export async function askDns(
  netns: string | undefined,
  question: { server: string; type: 'A' | 'AAAA' },
  names: string[],
): Promise<{ name: string; ip: string } | undefined> {
  const { server, type } = question;
  const family: Family = type === 'A' ? 4 : 6;
  for (const name of names) {
    const { stdout } = await run(
      ['dig', '+short', '+time=2', '+tries=1', `@${server}`, name, type],
      {
        netns,
        okCodes: [9, 10],
      },
    );
    // `+short` also lists the CNAMEs on the way: only an address of the family counts.
    const ip = stdout.split('\n').find((l) => tryParseIP(l.trim())?.family === family);
    if (ip) return { name, ip: ip.trim() };
  }
  return undefined;
}
