// Links, addresses and routes, written in batches (`ip -batch`: one process per namespace)
// and read as JSON (`ip -j`).
import { run, runJson } from '../process/run.js';

/** Applies `ip` commands (one per line, without the leading `ip`) in a namespace, in one process. */
export async function ipBatch(netns: string | undefined, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const argv = netns ? ['ip', '-n', netns, '-batch', '-'] : ['ip', '-batch', '-'];
  await run(argv, { input: lines.map((l) => `${l}\n`).join('') });
}

export interface LinkInfo {
  ifindex: number;
  ifname: string;
  operstate?: string;
  mtu?: number;
  master?: string;
  link_type?: string;
}

export async function listLinks(netns: string): Promise<LinkInfo[]> {
  return runJson<LinkInfo[]>(['ip', '-n', netns, '-j', 'link', 'show']);
}

export interface RouteGet {
  dst: string;
  gateway?: string;
  dev: string;
  prefsrc?: string;
}

/** What the kernel would do with a packet to `dst` (`ip route get`). */
export async function routeGet(netns: string, dst: string): Promise<RouteGet> {
  const routes = await runJson<RouteGet[]>(['ip', '-n', netns, '-j', 'route', 'get', dst]);
  return routes[0]!;
}
