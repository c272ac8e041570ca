// A SQLite store of the test's own in a temporary folder, closed and removed with its folder
// whatever the test did.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';

/** Runs `fn` with a fresh store polled often, so that watch tests do not wait long. */
export async function withTempStore(
  fn: (store: SqliteStore, path: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-store-'));
  const path = join(dir, 'store.db');
  const store = new SqliteStore(path, { pollMs: 10 });
  try {
    await fn(store, path);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
