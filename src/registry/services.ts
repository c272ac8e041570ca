// What a Service holds outside its own object: a cluster IP and node ports, each a reservation
// key naming it. Taken at admission, given back on delete or when the service stops using them.
import type { ClusterNetwork, Service } from '../api/types.js';
import { assignClusterIP, releaseClusterIP } from '../ipam/service-ips.js';
import { assignNodePorts, releaseNodePorts } from '../ipam/node-ports.js';
import type { Store } from '../store/store.js';

/**
 * The service with its cluster IP and node ports reserved. `old` is the service as stored: an
 * address it held and no longer has (it became ExternalName, headless or single-stack) is
 * released.
 */
export async function admitService(
  store: Store,
  svc: Service,
  old: Service | undefined,
  network: ClusterNetwork['spec'],
): Promise<Service> {
  const admitted = await assignNodePorts(store, await assignClusterIP(store, svc, network));
  if (old) await releaseClusterIP(store, old, admitted.spec.clusterIPs ?? []);
  return admitted;
}

export async function releaseService(store: Store, svc: Service): Promise<void> {
  await releaseClusterIP(store, svc);
  await releaseNodePorts(store, svc);
}
