// Feeds the cluster index from the store: one informer per kind DNS reads (list, then watch;
// re-list when the watch breaks), each change applied to the index as it arrives.
import type { Kind, KubeObject } from '../api/types.js';
import { startInformer, type Change, type Informer } from '../store/informer.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import type { ClusterIndex } from './cluster-index.js';
import type { ClusterSource } from './run.js';

// Nodes for their addresses: nodes may have names outside the cluster resolved.
const KINDS: Kind[] = ['Namespace', 'Service', 'EndpointSlice', 'ClusterNetwork', 'Node'];

export function storeSource(store: Store): ClusterSource {
  return async (index: ClusterIndex, log: Logger) => {
    const informers: Informer<KubeObject>[] = KINDS.map(
      (kind) =>
        startInformer(store, kind, {
          onChange: (change: Change<KubeObject>) => applyChange(index, change),
          onError: (message) => log.warn({ kind, err: message }, 'store watch failed, retrying'),
        }) as Informer<KubeObject>,
    );
    await Promise.all(informers.map((i) => i.synced));
    index.markSynced();
    return {
      stop: async () => {
        await Promise.all(informers.map((i) => i.stop()));
        await store.close();
      },
    };
  };
}

function applyChange(index: ClusterIndex, change: Change<KubeObject>): void {
  const obj = change.object;
  if (change.type === 'deleted') index.remove(obj.kind, obj.metadata.namespace, obj.metadata.name);
  else index.apply(obj);
}
