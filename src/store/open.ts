// Opens a store from its URL: `sqlite:PATH` (`sqlite::memory:` for tests) or `etcd:HOST:PORT[,HOST:PORT...][?ca=F&cert=F&key=F]`.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { OperationError, UsageError } from '../util/errors.js';
import type { Store } from './store.js';

export interface OpenOptions {
  /**
   * Make a SQLite store (its directory and file) when it does not exist yet. Commands that only
   * read pass false: a mistyped path must fail, not quietly start an empty cluster.
   */
  create?: boolean;
  /** SQLite: WAL checkpoints on a worker thread, not inside writes (sqlite-checkpoints.ts). */
  checkpointsInBackground?: boolean;
}

export async function openStore(url: string, options: OpenOptions = {}): Promise<Store> {
  if (url === 'sqlite::memory:') {
    // A private in-memory store (one process, gone on close): for unit tests.
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore(':memory:');
  }
  if (url.startsWith('sqlite:')) {
    const path = resolve(url.slice('sqlite:'.length));
    if (path === '' || url === 'sqlite:') {
      throw new UsageError(`store ${url}: give a file, e.g. sqlite:/var/lib/podnet/store.db`);
    }
    if (options.create === false && !existsSync(path)) {
      throw new OperationError(
        `store ${url}: ${path} does not exist (start a lab with 'podnet lab up', or give the path of an existing store)`,
      );
    }
    mkdirSync(dirname(path), { recursive: true });
    const { SqliteStore } = await import('./sqlite.js');
    return new SqliteStore(path, { checkpointsInBackground: options.checkpointsInBackground });
  }
  if (url.startsWith('etcd:')) {
    const { EtcdStore } = await import('./etcd.js');
    return new EtcdStore(url);
  }
  throw new UsageError(
    `store ${url}: unknown kind of store: use sqlite:PATH or etcd:HOST:PORT[,HOST:PORT...]`,
  );
}
