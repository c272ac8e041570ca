// Node objects for routing tests: name, pod subnet, InternalIP, zone and VTEP MAC.
import { ANNOTATION_VTEP_MAC, LABEL_ZONE, type Node } from '../../src/api/types.js';

export function makeNode(
  name: string,
  podCIDR: string,
  ip: string,
  opts: { zone?: string; mac?: string } = {},
): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: opts.zone ? { [LABEL_ZONE]: opts.zone } : {},
      annotations: opts.mac ? { [ANNOTATION_VTEP_MAC]: opts.mac } : {},
    },
    spec: { podCIDR },
    status: { addresses: [{ type: 'InternalIP', address: ip }] },
  };
}
