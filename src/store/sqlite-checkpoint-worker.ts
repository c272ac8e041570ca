// The worker thread of sqlite-checkpoints.ts: its own connection to the store's file, copying
// the WAL back into the database every `intervalMs` with a PASSIVE checkpoint (which takes no
// lock a writer or reader waits for), and counting them where the store's thread can read.
import { DatabaseSync } from 'node:sqlite';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
  /** One Int32 the worker adds 1 to after each checkpoint. */
  done: SharedArrayBuffer;
}

function runCheckpoints({ path, intervalMs, done }: CheckpointWorkerData): void {
  const count = new Int32Array(done);
  const db = new DatabaseSync(path, { timeout: 1000 });
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const once = () => {
    try {
      checkpoint.get();
      Atomics.add(count, 0, 1);
    } catch {
      // The file busy or gone for a moment: the next turn tries again, and the store's own
      // backstop checkpoint covers a worker that keeps failing.
    }
  };
  const timer = setInterval(once, intervalMs);
  parentPort!.on('message', (m: 'now' | 'stop') => {
    if (m === 'now') return once();
    clearInterval(timer);
    db.close();
    parentPort!.close();
  });
}

// Only as the worker does this module start anything: imported elsewhere, it does nothing.
if (!isMainThread && parentPort) runCheckpoints(workerData as CheckpointWorkerData);
