// After `lab up` is ready: the peers some host cannot route to with the lab's backend (host-gw
// across zones), so that "ready" never hides pods that cannot talk. host-gw within one zone
// is valid, hence a warning and not a refusal.
import { NETWORK_UNAVAILABLE } from '../routing/condition.js';
import { unreachablePeerWarnings } from '../routing/advice.js';
import { getClusterNetwork, listObjects } from '../store/objects.js';
import { openStore } from '../store/open.js';
import { pollUntil } from './wait.js';

/** How long to wait for every agent's first routing verdict (its NetworkUnavailable condition). */
const VERDICT_TIMEOUT_MS = 15_000;

export async function labNetworkWarnings(storeUrl: string): Promise<string[]> {
  const store = await openStore(storeUrl, { create: false });
  try {
    const network = await getClusterNetwork(store);
    const nodes = await pollUntil(async () => {
      const { items } = await listObjects(store, 'Node');
      const decided = items.every((n) =>
        n.status?.conditions?.some((c) => c.type === NETWORK_UNAVAILABLE),
      );
      return decided ? items : undefined;
    }, VERDICT_TIMEOUT_MS);
    if (!nodes) return ['not every agent has said yet whether it routes to all its peers'];
    return unreachablePeerWarnings(nodes, network.backend);
  } finally {
    await store.close();
  }
}
