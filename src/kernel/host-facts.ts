// Reads what `podnet doctor` and `podnet trace` need to know about one host's kernel, with as
// few processes as possible: one `sysctl` for every key, one `ip -j` per table.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Family } from '../net/index.js';
import { run, runJson } from '../process/run.js';

export interface LinkFact {
  ifname: string;
  mtu: number;
  address?: string;
  operstate?: string;
  /** `vxlan`, `veth`, `ipip`, `bridge`, ... from `ip -d`; undefined for plain devices. */
  kind?: string;
  /** IPv4 addresses on the device, `a.b.c.d/len`. */
  addresses?: string[];
  vxlan?: { id?: number; port?: number; local?: string; link?: string };
}

export interface RouteFact {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  flags?: string[];
}

export interface HostFacts {
  sysctls: Record<string, string>;
  forwardPolicy?: string;
  forwardRules: string[];
  links: LinkFact[];
  /** Routes podnet owns (proto 80). */
  podnetRoutes: RouteFact[];
}

interface IpLink {
  ifname: string;
  mtu: number;
  address?: string;
  operstate?: string;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** Every sysctl a check may need, for the devices that exist. Missing keys are skipped. */
function sysctlKeys(links: LinkFact[]): string[] {
  const keys = [
    'net.ipv4.ip_forward',
    'net.ipv6.conf.all.forwarding',
    'net.ipv4.conf.all.rp_filter',
    'net.ipv4.conf.default.rp_filter',
    'net.netfilter.nf_conntrack_count',
    'net.netfilter.nf_conntrack_max',
    'net.bridge.bridge-nf-call-iptables',
  ];
  for (const l of links) keys.push(`net.ipv4.conf.${l.ifname.replace(/\./g, '/')}.rp_filter`);
  return keys;
}

/** The host's links, routes and sysctls, and the FORWARD chain of `family`'s firewall. */
export async function readHostFacts(netns?: string, family: Family = 4): Promise<HostFacts> {
  const [rawLinks, routes] = await Promise.all([
    runJson<IpLink[]>(['ip', '-j', '-d', 'addr', 'show'], { netns }),
    runJson<RouteFact[]>(['ip', `-${family}`, '-j', 'route', 'show', 'proto', '80'], { netns }),
  ]);
  const links: LinkFact[] = rawLinks.map((l) => ({
    ifname: l.ifname,
    mtu: l.mtu,
    address: l.address,
    operstate: l.operstate,
    kind: l.linkinfo?.info_kind,
    addresses: (l.addr_info ?? [])
      .filter((a) => a.family === 'inet' && a.local)
      .map((a) => `${a.local}/${a.prefixlen}`),
    vxlan:
      l.linkinfo?.info_kind === 'vxlan'
        ? {
            id: l.linkinfo.info_data?.id as number | undefined,
            port: l.linkinfo.info_data?.port as number | undefined,
            local: l.linkinfo.info_data?.local as string | undefined,
            link: l.linkinfo.info_data?.link as string | undefined,
          }
        : undefined,
  }));
  const [sysctlOut, forward] = await Promise.all([
    run(['sysctl', '-e', ...sysctlKeys(links)], { netns, okCodes: [255] }),
    run([family === 4 ? 'iptables' : 'ip6tables', '-w', '5', '-S', 'FORWARD'], {
      netns,
      okCodes: [1, 3],
    }),
  ]);
  const sysctls: Record<string, string> = neighbourThresholds();
  for (const line of sysctlOut.stdout.split('\n')) {
    const m = /^(\S+) = (.*)$/.exec(line);
    if (m) sysctls[m[1]!.replace(/\//g, '.')] = m[2]!;
  }
  const forwardLines = forward.stdout.split('\n').filter(Boolean);
  const policy = forwardLines.find((l) => l.startsWith('-P FORWARD '));
  return {
    sysctls,
    forwardPolicy: policy?.split(' ')[2],
    forwardRules: forwardLines.filter((l) => l.startsWith('-A ')),
    links,
    podnetRoutes: routes,
  };
}

/**
 * The neighbour tables' garbage-collection thresholds. The tables are one per machine (every
 * namespace's entries count against them), so the kernel shows these only in the machine's
 * own namespace: they are read there, whichever host namespace the other facts come from.
 */
function neighbourThresholds(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const family of ['ipv4', 'ipv6'])
    for (const i of [1, 2, 3]) {
      const key = `net.${family}.neigh.default.gc_thresh${i}`;
      try {
        out[key] = readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8').trim();
      } catch {
        // Not shown here (a namespace of its own): the check says nothing rather than guess.
      }
    }
  return out;
}

/** The running kernel's build options (`CONFIG_X=y|m`), or undefined when the kernel hides them. */
export function readKernelConfig(): Map<string, string> | undefined {
  try {
    const text = gunzipSync(readFileSync('/proc/config.gz')).toString();
    const config = new Map<string, string>();
    for (const line of text.split('\n')) {
      const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
      if (m) config.set(m[1]!, m[2]!);
    }
    return config;
  } catch {
    return undefined;
  }
}
