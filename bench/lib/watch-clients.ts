// A worker thread of watch clients for bench/watch-fanout.ts: `count` HTTPS watches of one
// path, each decoding every event line it gets. The time each watcher decoded an event is taken
// on the clock every thread shares (`performance.timeOrigin + performance.now()`) and posted
// to the timing thread once per turn of this thread's event loop, so the post itself never
// counts in a latency.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { Pod } from '../../src/api/types.js';

export interface WatchClientsData {
  /** The API server's base URL. */
  url: string;
  /** Its PKI folder (ca.crt, admin.crt, admin.key). */
  pki: string;
  /** The watch's path and query. */
  path: string;
  count: number;
}

/** What a thread posts: its watchers that decoded the event marked `mark` since its last post. */
export interface Arrivals {
  mark: string;
  /** Shared-clock milliseconds, one per watcher. */
  at: number[];
}

/** Milliseconds on a clock that reads the same in every thread of the process. */
export const sharedNow = (): number => performance.timeOrigin + performance.now();

function run({ url, pki, path, count }: WatchClientsData): void {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: count,
    ca: readFileSync(join(pki, 'ca.crt')),
    cert: readFileSync(join(pki, 'admin.crt')),
    key: readFileSync(join(pki, 'admin.key')),
  });
  const pending = new Map<string, number[]>();
  const post = () => {
    for (const [mark, at] of pending) parentPort!.postMessage({ mark, at } satisfies Arrivals);
    pending.clear();
  };
  const arrived = (mark: string, at: number) => {
    if (pending.size === 0) setImmediate(post);
    let times = pending.get(mark);
    if (!times) pending.set(mark, (times = []));
    times.push(at);
  };
  for (let i = 0; i < count; i++) {
    const req = request(`${url}${path}`, { agent }, (res) => {
      let rest = '';
      res.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop()!;
        const at = sharedNow();
        for (const line of lines) {
          if (!line) continue;
          const event = JSON.parse(line) as { object: Pod };
          arrived(event.object.metadata.labels?.mark ?? '', at);
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined);
    req.end();
  }
}

if (parentPort) run(workerData as WatchClientsData);
