// Admission of Pods: what a Pod's author should hear before it runs. The lab's pod runner runs
// commands on the host's filesystem and pulls no images, so a container with an image and no
// command runs nothing; and a Pod bound to a node the cluster does not have waits for it, with
// a PodScheduled condition saying why (as the scheduler says why a pod is unschedulable).
import type { Node, Pod } from '../api/types.js';

export interface PodAdmission {
  pod: Pod;
  warnings: string[];
}

export function admitPod(pod: Pod, nodes: readonly Node[]): PodAdmission {
  const who = `Pod ${pod.metadata.namespace ?? 'default'}/${pod.metadata.name}`;
  const warnings = pod.spec.containers
    .filter((c) => !c.command?.length && !c.args?.length)
    .map(
      (c) =>
        `${who}: container ${c.name}${c.image ? ` (image ${c.image})` : ''} has no command: podnet's lab runs commands on the host's filesystem and pulls no images, so it will run nothing`,
    );
  const node = pod.spec.nodeName;
  if (node === undefined || nodes.some((n) => n.metadata.name === node) || pod.status?.podIP) {
    return { pod, warnings };
  }
  const known = nodes.map((n) => n.metadata.name).join(', ') || 'none';
  const message = `no Node named ${node} (the cluster has ${known}): the pod waits until a node of that name joins`;
  warnings.push(`${who}: ${message}`);
  const others = (pod.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
  return {
    pod: {
      ...pod,
      status: {
        ...pod.status,
        phase: 'Pending',
        conditions: [
          ...others,
          { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message },
        ],
      },
    },
    warnings,
  };
}
