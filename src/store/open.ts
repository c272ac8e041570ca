// Opens a store from its URL: `sqlite:PATH` (`sqlite::memory:` for tests) or `etcd:HOST:PORT[,HOST:PORT...][?ca=F&cert=F&key=F]`.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../util/errors.js';
import type { Store } from './store.js';

export async function openStore(url: string): Promise<Store> {
  if (url === 'sqlite::memory:') {
    // A private in-memory store (one process, gone on close): for unit tests.
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore(':memory:');
  }
  if (url.startsWith('sqlite:')) {
    const path = resolve(url.slice('sqlite:'.length));
    if (path === '' || url === 'sqlite:') {
      if (url.startsWith('etcd:')) {
        const { EtcdStore } = await import('./etcd.js');
        return new EtcdStore(url);
      }
      throw new UsageError(`store ${url}: give a file, e.g. sqlite:/var/lib/podnet/store.db`);
    }
    mkdirSync(dirname(path), { recursive: true });
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore(path);
  }
  if (url.startsWith('etcd:')) {
    const { EtcdStore } = await import('./etcd.js');
    return new EtcdStore(url);
  }
  throw new UsageError(
    `store ${url}: unknown kind of store: use sqlite:PATH or etcd:HOST:PORT[,HOST:PORT...]`,
  );
}
