// When a lab is ready: every host has registered its Node object and the Node says Ready=True
// (the agent's node controller mirrors its own readiness into that condition).
import type { Node } from '../api/types.js';

/** The hosts that are not ready yet, each with why. Empty when the whole cluster is ready. */
export function nodesNotReady(nodes: readonly Node[], hosts: readonly string[]): string[] {
  const byName = new Map(nodes.map((n) => [n.metadata.name, n]));
  const waiting: string[] = [];
  for (const host of hosts) {
    const node = byName.get(host);
    if (!node) {
      waiting.push(`${host} (no Node object yet)`);
      continue;
    }
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status !== 'True') {
      waiting.push(
        `${host} (Ready=${ready?.status ?? 'unknown'}${ready?.message ? `: ${ready.message}` : ''})`,
      );
    }
  }
  return waiting;
}
