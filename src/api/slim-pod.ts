// A pod as a node agent keeps it: what its controllers read (who it is, where it runs, its
// addresses, labels for selectors, named ports, readiness, termination) and nothing else. A
// cluster's pods are the largest thing an agent caches, one copy of every pod on every node,
// and the rest of a pod (annotations, images, commands, environment, container states,
// messages) is what makes real pods several kilobytes each. What pods repeat (namespace, node,
// the labels and containers of their template, a Ready condition) is kept once for all of them
// (slim-intern.ts); what is the pod's own (name, uid, addresses) is all a pod costs on its own.
import { present } from './slim-fields.js';
import type { Interner } from './slim-intern.js';
import type { Pod } from './types.js';

export function slimPod(pod: Pod, shared: Interner): Pod {
  const { metadata, spec, status } = pod;
  const podIP = status?.podIP;
  return {
    apiVersion: shared.string(pod.apiVersion),
    kind: pod.kind,
    metadata: present({
      name: metadata.name,
      namespace: shared.string(metadata.namespace),
      uid: metadata.uid,
      labels: shared.value(metadata.labels),
      resourceVersion: metadata.resourceVersion,
      deletionTimestamp: metadata.deletionTimestamp,
    }),
    spec: present({
      nodeName: shared.string(spec.nodeName),
      hostname: spec.hostname,
      subdomain: shared.string(spec.subdomain),
      containers: shared.value(
        (spec.containers ?? []).map((c) =>
          c.ports ? { name: c.name, ports: c.ports } : { name: c.name },
        ),
      ),
    }),
    ...(status && {
      status: present({
        phase: shared.string(status.phase),
        podIP,
        podIPs: otherAddresses(status.podIPs, podIP),
        hostIP: shared.string(status.hostIP),
        conditions: shared.value(
          status.conditions?.map((c) => ({ type: c.type, status: c.status })),
        ),
      }),
    }),
  };
}

/**
 * podIPs where it says more than podIP: a single-stack pod's is podIP again, and readers take
 * podIP when podIPs is absent, as the API allows. The first is podIP's own string.
 */
function otherAddresses(
  podIPs: { ip: string }[] | undefined,
  podIP: string | undefined,
): { ip: string }[] | undefined {
  if (!podIPs || (podIPs.length === 1 && podIPs[0]!.ip === podIP)) return undefined;
  return podIPs.map(({ ip }) => ({ ip: ip === podIP ? podIP : ip }));
}
