// What the agent's informers keep of each kind. Every pod of the cluster is cached on every
// node, and listed again in its services' EndpointSlices and Endpoints: of a pod only what the
// controllers read, and of all three what pods repeat held once (src/api/slim-*.ts). Every Node
// is cached on every node too: only what the controllers read of it.
import { shareEndpointSlice, shareEndpoints, type PodLookup } from '../api/slim-endpoints.js';
import { Interner } from '../api/slim-intern.js';
import { slimNode } from '../api/slim-node.js';
import { slimPod } from '../api/slim-pod.js';
import type { Pod } from '../api/types.js';
import type { InformerCacheOptions } from '../store/shared-informers.js';

/** The transforms, given the cached pods (read when a slice or Endpoints arrives). */
export function cachedObjectTransforms(
  pods: () => ReadonlyMap<string, Pod>,
): NonNullable<InformerCacheOptions['transforms']> {
  const shared = new Interner();
  const podOf: PodLookup = (namespace, name) => pods().get(`${namespace}/${name}`);
  return {
    Pod: (pod) => slimPod(pod, shared),
    Node: (node) => slimNode(node, shared),
    EndpointSlice: (slice) => shareEndpointSlice(slice, shared, podOf),
    Endpoints: (endpoints) => shareEndpoints(endpoints, shared, podOf),
  };
}
