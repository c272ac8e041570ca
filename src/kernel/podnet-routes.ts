// podnet's routes (proto 80) in this namespace's main table, as `ip -j route` shows them: what
// a reader outside the routing reconciler (the flow log) needs to tell how a peer is reached.
import { runJson } from '../process/run.js';
import { PODNET_ROUTE_PROTO } from './netobjects.js';

export interface PodnetRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

export async function readPodnetRouteTable(netns?: string): Promise<PodnetRoute[]> {
  const routes = await runJson<PodnetRoute[]>(
    ['ip', '-j', 'route', 'show', 'proto', String(PODNET_ROUTE_PROTO)],
    { netns },
  );
  return routes.map(({ dst, gateway, dev }) => ({ dst, gateway, dev }));
}
