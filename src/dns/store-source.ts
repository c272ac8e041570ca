// Feeds the cluster index from the store with the list/watch contract: list the kinds DNS
// reads, watch from the list's revision + 1, and list again when the watch breaks (history
// compacted, store away). Each change reaches the index as it arrives.
import type { KubeObject } from '../api/types.js';
import type { KeyValue, Store, Watch, WatchEvent } from '../store/store.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { ClusterIndex } from './cluster-index.js';
import type { ClusterSource } from './run.js';

/** The store key segments of the kinds DNS answers from (`/podnet/<plural>/[<ns>/]<name>`). */
const KIND_OF_PLURAL: Record<string, KubeObject['kind']> = {
  namespaces: 'Namespace',
  services: 'Service',
  pods: 'Pod',
  clusternetworks: 'ClusterNetwork',
};
const ROOT = '/podnet/';

export function storeSource(store: Store, retryMs = 1000): ClusterSource {
  return (index: ClusterIndex, log: Logger) =>
    new Promise((resolveFirstSync) => {
      let watch: Watch | undefined;
      let retry: NodeJS.Timeout | undefined;
      let stopped = false;
      const handle = {
        stop: async () => {
          stopped = true;
          if (retry) clearTimeout(retry);
          await watch?.cancel();
          await store.close();
        },
      };
      const later = (ms: number): void => {
        if (!stopped) retry = setTimeout(() => void sync(), ms);
      };
      const sync = async (): Promise<void> => {
        try {
          const { items, revision } = await store.list(ROOT);
          if (stopped) return;
          index.replaceAll(items.flatMap((kv) => decode(kv) ?? []));
          resolveFirstSync(handle);
          watch = store.watch(ROOT, revision + 1, {
            onEvents: (events) => events.forEach((ev) => applyEvent(index, ev)),
            onError: (err) => {
              watch = undefined;
              log.warn(
                { err: err.message, reason: err.reason },
                'store watch ended, listing again',
              );
              later(err.reason === 'compacted' ? 0 : retryMs);
            },
          });
        } catch (err) {
          log.warn({ err: errorMessage(err) }, 'cannot list the store, retrying');
          later(retryMs);
        }
      };
      void sync();
    });
}

function applyEvent(index: ClusterIndex, ev: WatchEvent): void {
  if (ev.type === 'put') {
    const obj = decode(ev.kv);
    if (obj) index.apply(obj);
    return;
  }
  const ref = parseKey(ev.key);
  if (ref) index.remove(ref.kind, ref.namespace, ref.name);
}

/** The object of a key DNS cares about, or undefined (other kinds, or not JSON). */
function decode(kv: KeyValue): KubeObject | undefined {
  if (!parseKey(kv.key)) return undefined;
  try {
    return JSON.parse(kv.value) as KubeObject;
  } catch {
    return undefined;
  }
}

function parseKey(key: string): { kind: string; namespace?: string; name: string } | undefined {
  if (!key.startsWith(ROOT)) return undefined;
  const parts = key.slice(ROOT.length).split('/');
  const kind = KIND_OF_PLURAL[parts[0] ?? ''];
  if (!kind) return undefined;
  if (parts.length === 3) return { kind, namespace: parts[1], name: parts[2]! };
  if (parts.length === 2) return { kind, name: parts[1]! };
  return undefined;
}
