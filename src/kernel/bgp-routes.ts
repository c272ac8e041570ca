// The kernel side of a standalone BGP speaker that installs what it learns (like BIRD's kernel
// protocol): read podnet's routes (proto 80) once, then apply differences with one `ip -batch`.
// Inside the agent the routing reconciler installs routes instead; the two are not combined.
import { run, runJson } from '../process/run.js';
import { OperationError } from '../util/errors.js';
import { PODNET_ROUTE_PROTO } from './netobjects.js';

/** podnet's routes of both families in the main table: prefix → next hop. */
export async function readPodnetRoutes(netns?: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const family of ['-4', '-6']) {
    const routes = await runJson<{ dst: string; gateway?: string }[]>(
      ['ip', '-j', family, 'route', 'show', 'proto', String(PODNET_ROUTE_PROTO)],
      { netns },
    );
    for (const r of routes) {
      if (!r.gateway) continue;
      const host = family === '-4' ? '/32' : '/128';
      out.set(r.dst.includes('/') ? r.dst : `${r.dst}${host}`, r.gateway);
    }
  }
  return out;
}

/** Applies `ip route` lines (e.g. "replace 10.244.2.0/24 via 172.31.1.2 proto 80") in one batch. */
export async function applyRouteLines(lines: string[], netns?: string): Promise<void> {
  if (lines.length === 0) return;
  const result = await run(['ip', '-force', '-batch', '-'], {
    netns,
    input: lines.map((l) => `route ${l}`).join('\n') + '\n',
    okCodes: [1, 255],
  });
  if (result.code !== 0) {
    throw new OperationError(`ip route batch failed: ${result.stderr.trim().split('\n')[0]}`);
  }
}
