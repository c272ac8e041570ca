// WAL checkpoints on a worker thread, for a store whose thread answers requests (the API
// server). SQLite copies the WAL back into the database file, and syncs both, inside whichever
// commit finds the WAL past 1,000 pages: with Pods in the store that is about one write in 150,
// and it holds that write, and every request queued behind it on the same thread, for about
// 10 ms (the syncs). Here a worker with its own connection does that copying every
// `intervalMs`, and the store's connection checkpoints by itself only past BACKSTOP_PAGES,
// should the worker fall behind or die. What is stored, and when a write returns, are unchanged.
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { CheckpointWorkerData } from './sqlite-checkpoint-worker.js';

/** The store's own checkpoint threshold while a worker checkpoints (SQLite's default: 1,000). */
export const BACKSTOP_PAGES = 10_000;
const INTERVAL_MS = 200;

export class BackgroundCheckpoints {
  private readonly worker: Worker;
  private readonly count: Int32Array;
  private readonly exited: Promise<void>;

  /** Starts checkpointing the file `db` (the store's connection) has open. */
  constructor(db: DatabaseSync, path: string, intervalMs = INTERVAL_MS) {
    db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
    const done = new SharedArrayBuffer(4);
    this.count = new Int32Array(done);
    const workerData: CheckpointWorkerData = { path, intervalMs, done };
    this.worker = new Worker(new URL('./sqlite-checkpoint-worker.js', import.meta.url), {
      workerData,
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // A worker that fails leaves the backstop to checkpoint; it never stops the store.
    this.worker.on('error', () => undefined);
    this.worker.unref();
  }

  /** Checkpoints the worker has made. */
  get made(): number {
    return Atomics.load(this.count, 0);
  }

  /** One checkpoint now, besides the timer's (for tests). */
  now(): void {
    this.worker.postMessage('now');
  }

  async stop(): Promise<void> {
    // Held open until the worker has closed its connection: an unref'd worker alone would let
    // the process end with the stop still pending.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
