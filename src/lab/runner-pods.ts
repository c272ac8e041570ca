// Which Pod objects the lab's pod runner makes pods for. A Pod the agent created for another
// runtime's container (podman on a lab host, say) already has its network namespace and
// address from that runtime: the runner starting it again would only collide with it
// ("File exists") on every resync.
import type { Pod } from '../api/types.js';
import { ANNOTATION_CNI_CONTAINER } from '../agent/pod-binder.js';

/** Whether a Pod stands for a container another runtime runs (the agent marks those). */
export function runByAnotherRuntime(pod: Pod): boolean {
  return pod.metadata.annotations?.[ANNOTATION_CNI_CONTAINER] !== undefined;
}

/** The pods placed on `node` that this node's runner is to run (or tear down). */
export function runnerPods(pods: readonly Pod[], node: string): Pod[] {
  return pods.filter((p) => p.spec.nodeName === node && !runByAnotherRuntime(p));
}
