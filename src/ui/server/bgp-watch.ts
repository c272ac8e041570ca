// The nodes' BGP statuses, kept current from the store's watch (they are not an object kind, so
// no informer carries them): list, then watch from the list's revision, and list again when the
// history the watch needs was compacted away.
import { STATUS_PREFIX, type NodeBgpStatus } from '../../bgp/status-store.js';
import type { Store, Watch } from '../../store/store.js';
import { errorMessage } from '../../util/errors.js';

export interface BgpStatusWatch {
  readonly statuses: ReadonlyMap<string, NodeBgpStatus>;
  stop(): Promise<void>;
}

const RETRY_MS = 1000;

export function watchBgpStatuses(
  store: Store,
  onChange: () => void,
  onError: (message: string) => void,
): BgpStatusWatch {
  const statuses = new Map<string, NodeBgpStatus>();
  let watch: Watch | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const nodeOf = (key: string): string => key.slice(STATUS_PREFIX.length);

  const start = async (): Promise<void> => {
    try {
      const { items, revision } = await store.list(STATUS_PREFIX);
      if (stopped) return;
      statuses.clear();
      for (const kv of items) statuses.set(nodeOf(kv.key), JSON.parse(kv.value) as NodeBgpStatus);
      onChange();
      watch = store.watch(STATUS_PREFIX, revision + 1, {
        onEvents(events) {
          for (const e of events) {
            if (e.type === 'put') {
              statuses.set(nodeOf(e.kv.key), JSON.parse(e.kv.value) as NodeBgpStatus);
            } else statuses.delete(nodeOf(e.key));
          }
          onChange();
        },
        onError(err) {
          onError(err.message);
          void watch?.cancel();
          if (!stopped) retry = setTimeout(() => void start(), RETRY_MS);
        },
      });
    } catch (err) {
      onError(errorMessage(err));
      if (!stopped) retry = setTimeout(() => void start(), RETRY_MS);
    }
  };
  void start();
  return {
    statuses,
    async stop() {
      stopped = true;
      clearTimeout(retry);
      await watch?.cancel();
    },
  };
}
