// The Node condition that tells people (and `podnet get nodes`) whether this host can reach
// every peer: Kubernetes' NetworkUnavailable, which network plugins own.
import type { Node, NodeCondition } from '../api/types.js';
import type { PeerProblem } from './desired.js';

export const NETWORK_UNAVAILABLE = 'NetworkUnavailable';

export function networkCondition(
  problems: readonly PeerProblem[],
): Omit<NodeCondition, 'lastTransitionTime'> {
  if (problems.length === 0) {
    return {
      type: NETWORK_UNAVAILABLE,
      status: 'False',
      reason: 'RoutesCreated',
      message: 'podnet routes to every peer',
    };
  }
  return {
    type: NETWORK_UNAVAILABLE,
    status: 'True',
    reason: 'PeersUnreachable',
    message: `cannot route to ${problems.map((p) => `${p.peer} (${p.reason})`).join('; ')}`,
  };
}

/**
 * The node with `wanted` set, or undefined when it already says exactly that. The transition
 * time moves only when the status does, as in Kubernetes.
 */
export function withCondition(
  node: Node,
  wanted: Omit<NodeCondition, 'lastTransitionTime'>,
  now: string,
): Node | undefined {
  const conditions = node.status?.conditions ?? [];
  const current = conditions.find((c) => c.type === wanted.type);
  if (
    current?.status === wanted.status &&
    current.reason === wanted.reason &&
    current.message === wanted.message
  ) {
    return undefined;
  }
  const lastTransitionTime =
    current?.status === wanted.status && current.lastTransitionTime
      ? current.lastTransitionTime
      : now;
  return {
    ...node,
    status: {
      ...node.status,
      conditions: [
        ...conditions.filter((c) => c.type !== wanted.type),
        { ...wanted, lastTransitionTime },
      ],
    },
  };
}
