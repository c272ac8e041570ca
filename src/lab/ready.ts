// When a lab is ready: every host has registered its Node object and the Node says Ready=True
// (the agent's node controller mirrors its own readiness into that condition), and the
// cluster DNS answers: each of its pods is a ready endpoint of its Service.
import { sliceServiceName } from '../api/endpoint-slices.js';
import type { EndpointSlice, Node } from '../api/types.js';

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

/**
 * The DNS pods not yet a ready endpoint of `service` (by the pod each endpoint names), each
 * with why. Empty once every one of them serves.
 */
export function dnsPodsNotServing(
  slices: readonly EndpointSlice[],
  service: string,
  pods: readonly string[],
): string[] {
  const serving = new Set(
    slices
      .filter((s) => sliceServiceName(s) === service)
      .flatMap((s) => s.endpoints)
      .filter((e) => e.conditions?.ready === true)
      .map((e) => e.targetRef?.name),
  );
  return pods.filter((p) => !serving.has(p)).map((p) => `${p} (not a ready endpoint yet)`);
}
