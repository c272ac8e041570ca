// Each node's BGP sessions, published in the cluster store so that `podnet bgp status` can
// show every node's sessions from anywhere the store is reachable (like Calico's node status).
import type { Store } from '../store/store.js';
import type { PeerStatus } from './speaker.js';

export const STATUS_PREFIX = '/podnet/bgpstatus/';

/** A route BGP handed to the node's routing: a pod subnet and the next hop it was learnt with. */
export interface BgpRoute {
  prefix: string;
  nextHop: string;
}

export interface NodeBgpStatus {
  node: string;
  /** ISO time of the last publication (a node that stopped publishing shows its age). */
  updatedAt: string;
  peers: PeerStatus[];
  /**
   * The routes the agent last handed to its routing, which plans the kernel from them (a
   * tunnel route in the kernel no longer shows the next hop); absent until the agent has
   * handed any, which after a start waits for every peer's End-of-RIB.
   */
  routes?: BgpRoute[];
}

export async function publishStatus(
  store: Store,
  node: string,
  peers: PeerStatus[],
  routes?: BgpRoute[],
): Promise<void> {
  const status: NodeBgpStatus = {
    node,
    updatedAt: new Date().toISOString(),
    peers,
    ...(routes ? { routes } : {}),
  };
  await store.put(`${STATUS_PREFIX}${node}`, JSON.stringify(status));
}

export async function readStatuses(store: Store): Promise<NodeBgpStatus[]> {
  const { items } = await store.list(STATUS_PREFIX);
  return items
    .map((kv) => JSON.parse(kv.value) as NodeBgpStatus)
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}
