// EndpointSlices and Endpoints as a node agent keeps them: whole, since the elected agent
// writes them back, but with what their endpoints repeat held once. Each pod behind a service
// is listed twice more (a slice endpoint and an Endpoints address), and each listing would
// otherwise carry its own copies of the pod's name, uid and address, its node, zone and
// namespace and a conditions object. The pod's own strings come from the cached pod where it
// is the same pod (same uid); the rest from the interner (slim-intern.ts).
//
// Both change the object they are given and return it: the informer hands them an object it
// has just decoded and no one else holds.
import type { Interner } from './slim-intern.js';
import type {
  EndpointAddress,
  EndpointSlice,
  Endpoints,
  ObjectMeta,
  ObjectReference,
  Pod,
} from './types.js';

/** The cached pod of this name, if any. */
export type PodLookup = (namespace: string, name: string) => Pod | undefined;

export function shareEndpointSlice(
  slice: EndpointSlice,
  shared: Interner,
  podOf: PodLookup,
): EndpointSlice {
  shareMetadata(slice.metadata, shared);
  for (const endpoint of slice.endpoints ?? []) {
    const pod = podOfRef(endpoint.targetRef, shared, podOf);
    const { addresses } = endpoint;
    for (let i = 0; i < addresses.length; i++) addresses[i] = podAddress(pod, addresses[i]!);
    if (endpoint.conditions) endpoint.conditions = shared.value(endpoint.conditions);
    if (endpoint.nodeName) endpoint.nodeName = shared.string(endpoint.nodeName);
    if (endpoint.zone) endpoint.zone = shared.string(endpoint.zone);
    if (endpoint.hints) endpoint.hints = shared.value(endpoint.hints);
  }
  if (slice.ports) slice.ports = shared.value(slice.ports);
  return slice;
}

export function shareEndpoints(
  endpoints: Endpoints,
  shared: Interner,
  podOf: PodLookup,
): Endpoints {
  shareMetadata(endpoints.metadata, shared);
  for (const subset of endpoints.subsets ?? []) {
    for (const address of [...(subset.addresses ?? []), ...(subset.notReadyAddresses ?? [])])
      shareAddress(address, shared, podOf);
    if (subset.ports) subset.ports = shared.value(subset.ports);
  }
  return endpoints;
}

function shareAddress(address: EndpointAddress, shared: Interner, podOf: PodLookup): void {
  const pod = podOfRef(address.targetRef, shared, podOf);
  address.ip = podAddress(pod, address.ip);
  if (address.nodeName) address.nodeName = shared.string(address.nodeName);
}

function shareMetadata(metadata: ObjectMeta, shared: Interner): void {
  if (metadata.namespace) metadata.namespace = shared.string(metadata.namespace);
}

/**
 * The pod a reference names when the cache holds that very pod (same uid); the reference then
 * uses the pod's strings, and its kind and namespace the shared ones.
 */
function podOfRef(
  ref: ObjectReference | undefined,
  shared: Interner,
  podOf: PodLookup,
): Pod | undefined {
  if (!ref) return undefined;
  if (ref.kind) ref.kind = shared.string(ref.kind);
  if (ref.namespace) ref.namespace = shared.string(ref.namespace);
  if (ref.kind !== 'Pod' || !ref.namespace || !ref.name) return undefined;
  const pod = podOf(ref.namespace, ref.name);
  if (!pod || pod.metadata.uid === undefined || pod.metadata.uid !== ref.uid) return undefined;
  ref.name = pod.metadata.name;
  ref.uid = pod.metadata.uid;
  return pod;
}

/** `ip` as the pod's own string, where the pod has that address. */
function podAddress(pod: Pod | undefined, ip: string): string {
  const status = pod?.status;
  if (status?.podIP === ip) return status.podIP;
  return status?.podIPs?.find((p) => p.ip === ip)?.ip ?? ip;
}
