// Where a Node's pod subnet and underlay address are read from, in one place: node IPAM's
// spec.podCIDR when set, else the subnet podnet's agent leased and annotated; the address the
// agent published, else the InternalIP.
import { ANNOTATION_NODE_IP, ANNOTATION_POD_CIDR, type Node } from './types.js';

/** The node's pod subnet as written (not parsed): spec.podCIDR(s), else podnet's annotation. */
export function nodePodCIDR(node: Node): string | undefined {
  return (
    node.spec?.podCIDR ??
    node.spec?.podCIDRs?.[0] ??
    node.metadata.annotations?.[ANNOTATION_POD_CIDR]
  );
}

/**
 * The node's underlay address: the one its agent published (it routes over that, as flannel's
 * public-ip), else its InternalIP.
 */
export function nodeInternalIP(node: Node): string | undefined {
  return (
    node.metadata.annotations?.[ANNOTATION_NODE_IP] ??
    node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address
  );
}
