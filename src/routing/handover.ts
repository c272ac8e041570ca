// While a rollout moves hosts between backends, each host keeps up the tunnel devices of every
// backend in use, so hosts on either side of the change still reach it. While a rollout moves
// hosts between the store and BGP as their routing source, a host that
// already speaks BGP routes each peer BGP has not told it of (yet) from the store: both
// sources make the same `proto 80` route to a peer, so the route is handed over, never
// removed and added again. Outside such a rollout BGP alone decides (a withdrawn peer goes).
import { nodeSettingsOf } from '../api/node-settings.js';
import type { Node } from '../api/types.js';

/** True while some host runs a routing source of its own (a rollout is moving it). */
export function routingHandover(stored: readonly Node[]): boolean {
  return stored.some((n) => nodeSettingsOf(n)?.routing !== undefined);
}

/** The Nodes to route to: what BGP learnt, and from the store every peer it has not. */
export function handoverNodes(learned: readonly Node[], stored: readonly Node[]): Node[] {
  const known = new Set(learned.map((n) => n.metadata.name));
  return [...learned, ...stored.filter((n) => !known.has(n.metadata.name))];
}

/**
 * The backends hosts run while a rollout moves the backend: the cluster-wide one and each
 * host's own. Every host keeps the tunnel devices of all of them, so a host still on the old
 * backend (or already on the new one) reaches it either way (empty: no backend rollout).
 */
export function backendsInUse(clusterBackend: string, stored: readonly Node[]): string[] {
  const own = stored.flatMap((n) => nodeSettingsOf(n)?.backend ?? []);
  return own.length === 0 ? [] : [...new Set([clusterBackend, ...own])].sort();
}
