// Opens a store from its URL: `sqlite:PATH` or `etcd:HOST:PORT[,HOST:PORT...]`.
import { UsageError } from '../util/errors.js';
import type { Store } from './store.js';

export async function openStore(url: string): Promise<Store> {
  throw new UsageError(`store ${url}: no store backend is built yet`);
}
