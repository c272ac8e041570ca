// A pod as a node agent keeps it: what its controllers read (who it is, where it runs, its
// addresses, labels for selectors, named ports, readiness, termination) and nothing else. A
// cluster's pods are the largest thing an agent caches, one copy of every pod on every node,
// and the rest of a pod (annotations, images, commands, environment, container states,
// messages) is what makes real pods several kilobytes each.
import type { Pod } from './types.js';

export function slimPod(pod: Pod): Pod {
  const { metadata, spec, status } = pod;
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: present({
      name: metadata.name,
      namespace: metadata.namespace,
      uid: metadata.uid,
      labels: metadata.labels,
      resourceVersion: metadata.resourceVersion,
      deletionTimestamp: metadata.deletionTimestamp,
    }),
    spec: present({
      nodeName: spec.nodeName,
      hostname: spec.hostname,
      subdomain: spec.subdomain,
      containers: (spec.containers ?? []).map((c) =>
        c.ports ? { name: c.name, ports: c.ports } : { name: c.name },
      ),
    }),
    ...(status && {
      status: present({
        phase: status.phase,
        podIP: status.podIP,
        podIPs: status.podIPs,
        hostIP: status.hostIP,
        conditions: status.conditions?.map((c) => ({ type: c.type, status: c.status })),
      }),
    }),
  };
}

/**
 * The fields that are set, copied (an absent field costs nothing, an undefined one a slot; and
 * `delete` would turn the object into a slower, larger dictionary).
 */
function present<T extends object>(fields: T): T {
  const out: Partial<T> = {};
  for (const key of Object.keys(fields) as (keyof T)[])
    if (fields[key] !== undefined) out[key] = fields[key];
  return out as T;
}
