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
