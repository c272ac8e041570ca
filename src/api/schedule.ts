// Where a pod without `spec.nodeName` runs: spread over the nodes, fewest pods first, ties by
// node name, so a manifest of N pods lands evenly and the same way every time.
import type { Node, Pod } from './types.js';

/** The node for one more pod, given the pods already placed; undefined when there are no nodes. */
export function pickNode(nodes: readonly Node[], pods: Iterable<Pod>): string | undefined {
  const count = new Map<string, number>(nodes.map((n) => [n.metadata.name, 0]));
  for (const pod of pods) {
    const node = pod.spec.nodeName;
    if (node && count.has(node)) count.set(node, count.get(node)! + 1);
  }
  let best: string | undefined;
  for (const [name, n] of count) {
    const b = best === undefined ? undefined : count.get(best)!;
    if (b === undefined || n < b || (n === b && name < best!)) best = name;
  }
  return best;
}

/**
 * Sets `spec.nodeName` on every pod that has none, one after the other, each seeing the ones
 * placed before it. Returns new pod objects; the inputs are not changed.
 */
export function schedulePods(
  pending: readonly Pod[],
  nodes: readonly Node[],
  existing: readonly Pod[],
): Pod[] {
  const placed: Pod[] = [...existing];
  return pending.map((pod) => {
    const nodeName = pod.spec.nodeName || pickNode(nodes, placed);
    const out: Pod =
      nodeName === pod.spec.nodeName || !nodeName
        ? pod
        : { ...pod, spec: { ...pod.spec, nodeName } };
    placed.push(out);
    return out;
  });
}
