// A Node as a node agent keeps it: its name, labels (zone, hostname, roles), podnet's own
// annotations (VTEP MAC, WireGuard key, network settings), pod subnets, provider ID, addresses
// and conditions. A Node from a Kubernetes API also carries the images on the host, capacity,
// system info, heartbeats and other components' annotations, often tens of kilobytes, and every
// agent caches every Node; none of that is read, and nothing writes a cached Node back (Node
// writes read the store first).
import { present } from './slim-fields.js';
import type { Interner } from './slim-intern.js';
import type { Node, NodeCondition } from './types.js';

/** The prefix of podnet's own labels and annotations (CONVENTIONS.md). */
const PODNET_PREFIX = 'podnet.io/';

export function slimNode(node: Node, shared: Interner): Node {
  const { metadata, spec, status } = node;
  return {
    apiVersion: shared.string(node.apiVersion),
    kind: node.kind,
    metadata: present({
      name: metadata.name,
      uid: metadata.uid,
      labels: metadata.labels,
      annotations: podnetAnnotations(metadata.annotations),
      resourceVersion: metadata.resourceVersion,
      deletionTimestamp: metadata.deletionTimestamp,
    }),
    spec: present({
      podCIDR: spec?.podCIDR,
      podCIDRs: spec?.podCIDRs,
      providerID: spec?.providerID,
    }),
    ...(status && {
      status: present({
        addresses: status.addresses?.map(({ type, address }) => ({ type, address })),
        conditions: shared.value(status.conditions?.map(conditionRead)),
      }),
    }),
  };
}

function podnetAnnotations(
  annotations: Record<string, string> | undefined,
): Record<string, string> | undefined {
  if (!annotations) return undefined;
  const kept = Object.entries(annotations).filter(([key]) => key.startsWith(PODNET_PREFIX));
  return kept.length === Object.keys(annotations).length ? annotations : Object.fromEntries(kept);
}

/** A condition without its heartbeat, which changes every few seconds and nothing here reads. */
function conditionRead(c: NodeCondition): NodeCondition {
  return present({
    type: c.type,
    status: c.status,
    reason: c.reason,
    message: c.message,
    lastTransitionTime: c.lastTransitionTime,
  });
}
