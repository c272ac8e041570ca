// Reading this namespace's own addresses (for the node's InternalIP).
import { runJson } from '../process/run.js';

interface RouteJson {
  dev?: string;
  prefsrc?: string;
}

interface AddrJson {
  addr_info?: { family: string; local: string; scope: string }[];
}

/**
 * The address this host sends from by default: the default route's preferred source, else
 * the first global IPv4 address of its device. Undefined when there is no default route.
 */
export async function defaultRouteSource(): Promise<string | undefined> {
  const [route] = await runJson<RouteJson[]>(['ip', '-j', '-4', 'route', 'show', 'default']);
  if (!route?.dev) return undefined;
  if (route.prefsrc) return route.prefsrc;
  const links = await runJson<AddrJson[]>(['ip', '-j', '-4', 'addr', 'show', 'dev', route.dev]);
  const addr = links.flatMap((l) => l.addr_info ?? []).find((a) => a.scope === 'global');
  return addr?.local;
}

/**
 * The global IPv6 address beside `nodeIP` on the same device: a dual-stack host's IPv6 address
 * on the underlay, which peers in its segment route its IPv6 pods through. Undefined on a host
 * whose underlay carries IPv4 only.
 */
export async function ipv6Beside(nodeIP: string): Promise<string | undefined> {
  const links = await runJson<AddrJson[]>(['ip', '-j', 'addr', 'show']);
  const link = links.find((l) => l.addr_info?.some((a) => a.local === nodeIP));
  const addr = link?.addr_info?.find((a) => a.family === 'inet6' && a.scope === 'global');
  return addr?.local;
}
