// Each node's BGP sessions, published in the cluster store so that `podnet bgp status` can
// show every node's sessions from anywhere the store is reachable (like Calico's node status).
import type { Store } from '../store/store.js';
import type { PeerStatus } from './speaker.js';

export const STATUS_PREFIX = '/podnet/bgpstatus/';

export interface NodeBgpStatus {
  node: string;
  /** ISO time of the last publication (a node that stopped publishing shows its age). */
  updatedAt: string;
  peers: PeerStatus[];
}

export async function publishStatus(
  store: Store,
  node: string,
  peers: PeerStatus[],
): Promise<void> {
  const status: NodeBgpStatus = { node, updatedAt: new Date().toISOString(), peers };
  await store.put(`${STATUS_PREFIX}${node}`, JSON.stringify(status));
}

export async function readStatuses(store: Store): Promise<NodeBgpStatus[]> {
  const { items } = await store.list(STATUS_PREFIX);
  return items
    .map((kv) => JSON.parse(kv.value) as NodeBgpStatus)
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
}
