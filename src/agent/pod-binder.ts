// Pod identity: the address CNI gave a container is written to its Pod object
// (status.podIP, status.podIPs, status.hostIP), which is where endpoints and DNS read it.
// Runtimes without Pod objects (podman passes only K8S_POD_NAME) get one created for them,
// marked with the container's ID so that its DEL removes exactly that Pod again.
import type { Pod } from '../api/types.js';
import type { PodBinder, PodRef } from '../cni/handler.js';
import { createObject, deleteObject, getObject, updateObject } from '../store/objects.js';
import type { Store } from '../store/store.js';
import { OperationError } from '../util/errors.js';

/** Set on Pods that podnet created for a bare container: the container's ID. */
export const ANNOTATION_CNI_CONTAINER = 'podnet.io/cni-container-id';

export function storePodBinder(store: Store, nodeName: string): PodBinder {
  return {
    async bind(pod, podIP, hostIP, containerID, otherPodIPs = []) {
      const podIPs = [podIP, ...otherPodIPs].map((ip) => ({ ip }));
      for (let attempt = 0; attempt < 10; attempt++) {
        const updated = await updateObject(store, 'Pod', pod.namespace, pod.name, (p) => {
          p.status = { ...p.status, podIP, podIPs, hostIP };
          p.spec.nodeName ??= nodeName;
          return p;
        });
        if (updated) return;
        const created = await createObject(
          store,
          podFor(pod, podIPs, hostIP, nodeName, containerID),
        );
        if (created) return;
      }
      throw new OperationError(`pod ${pod.namespace}/${pod.name} keeps appearing and vanishing`);
    },

    async unbind(pod, podIP, containerID) {
      const current = await getObject(store, 'Pod', pod.namespace, pod.name);
      if (!current) return;
      if (current.metadata.annotations?.[ANNOTATION_CNI_CONTAINER] === containerID) {
        await deleteObject(store, 'Pod', pod.namespace, pod.name);
        return;
      }
      // A newer sandbox of the same pod may already have its own address: leave that one.
      await updateObject(store, 'Pod', pod.namespace, pod.name, (p) => {
        if (p.status?.podIP !== podIP) return undefined;
        delete p.status.podIP;
        delete p.status.podIPs;
        return p;
      });
    },
  };
}

function podFor(
  pod: PodRef,
  podIPs: { ip: string }[],
  hostIP: string,
  nodeName: string,
  containerID: string,
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      annotations: { [ANNOTATION_CNI_CONTAINER]: containerID },
    },
    spec: { nodeName, containers: [{ name: pod.name }] },
    status: { phase: 'Running', podIP: podIPs[0]!.ip, podIPs, hostIP },
  };
}
