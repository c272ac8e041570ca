// What to say when a backend cannot reach some peers: the backend that would. Shared by the
// agent's log, `lab up`, `trace` and `doctor`, so all of them give the same advice.
import type { Node } from '../api/types.js';
import { NETWORK_UNAVAILABLE } from './condition.js';

/** What to use instead of a backend that cannot reach some peers, if anything. */
export function backendAdvice(backend: string): string | undefined {
  return backend === 'host-gw'
    ? 'backend host-gw needs every node on one L2 segment; backend auto (direct where on-link, VXLAN elsewhere) or vxlan reaches them'
    : undefined;
}

/**
 * One line per node that cannot route to some peers (its NetworkUnavailable condition), naming
 * them and, where there is one, the backend that would reach them.
 */
export function unreachablePeerWarnings(nodes: readonly Node[], backend: string): string[] {
  const advice = backendAdvice(backend);
  return nodes.flatMap((n) => {
    const cond = n.status?.conditions?.find((c) => c.type === NETWORK_UNAVAILABLE);
    if (cond?.status !== 'True') return [];
    const what = cond.message ?? 'cannot route to some peers';
    return [`${n.metadata.name} ${what}${advice ? `: ${advice}` : ''}`];
  });
}
