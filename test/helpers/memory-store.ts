// A Store held in memory, for unit tests of code that only needs get/list/create/update/
// delete semantics (no watches, no leases). Integration tests use the real backends.
import type { KeyValue, ListResult, Store, Watch } from '../../src/store/store.js';

export function memoryStore(): Store {
  const data = new Map<string, KeyValue>();
  let revision = 0;
  const write = (key: string, value: string): number => {
    const old = data.get(key);
    revision++;
    data.set(key, {
      key,
      value,
      modRevision: revision,
      createRevision: old?.createRevision ?? revision,
    });
    return revision;
  };
  return {
    url: 'memory:',
    get: async (key) => data.get(key),
    list: async (prefix): Promise<ListResult> => ({
      items: [...data.values()].filter((kv) => kv.key.startsWith(prefix)),
      revision,
    }),
    create: async (key, value) => (data.has(key) ? undefined : write(key, value)),
    update: async (key, value, expected) =>
      (data.get(key)?.modRevision ?? 0) === expected ? write(key, value) : undefined,
    put: async (key, value) => write(key, value),
    delete: async (key, expected) => {
      const kv = data.get(key);
      if (!kv || (expected !== undefined && kv.modRevision !== expected)) return false;
      data.delete(key);
      revision++;
      return true;
    },
    watch: (): Watch => {
      throw new Error('memoryStore has no watch');
    },
    grantLease: async () => {
      throw new Error('memoryStore has no leases');
    },
    keepAlive: async () => undefined,
    revokeLease: async () => undefined,
    close: async () => undefined,
  };
}
