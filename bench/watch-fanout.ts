// Watch delivery at scale: 100 and 1,000 watchers of pods, each a lightweight client with its
// own HTTPS watch through `podnet apiserver` (as every node agent and kubelet of a large
// cluster holds one), see pod writes made on the store. Figure: the time from each write until
// each watcher has decoded its event, p50 and p99 over every (write, watcher) pair. The anchor
// is Kubernetes' SLO for single-object calls, 1 s at p99, which is also the issue's goal for
// watch delivery at 1,000 watchers. Beside it, the server's CPU time per event delivered to
// one watcher, which the machine's load does not inflate.
// The watchers run in worker threads (one per core unless told), apart from the thread that
// writes and times: in a cluster they are a thousand processes on as many hosts, and one event
// loop decoding every watcher's TLS stream in turn would be timed as the server's delay.
//   node dist/bench/watch-fanout.js [--watchers 100,1000] [--writes 50] [--threads N]
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { objectKey } from '../src/store/objects.js';
import { openStore } from '../src/store/open.js';
import { startApiServer, type RunningApiServer } from '../test/helpers/apiserver.js';
import { cpuMs } from './lib/process-cpu.js';
import { sharedNow, type Arrivals, type WatchClientsData } from './lib/watch-clients.js';
import { benchPod } from './lib/pods.js';
import { percentile } from './lib/stats.js';

const NS = 'fanout';
const GOAL_P99_MS = 1000;

const { values } = parseArgs({
  options: {
    watchers: { type: 'string', default: '100,1000' },
    writes: { type: 'string', default: '50' },
    threads: { type: 'string', default: String(availableParallelism()) },
  },
});
const sizes = values.watchers.split(',').map(Number);
const writes = Number(values.writes);
const threads = Number(values.threads);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `count` watches of every pod in NS from `revision`, spread over the client threads; each
 * watcher's decoding of an event is told with the event's mark.
 */
function watchers(
  api: RunningApiServer,
  count: number,
  revision: number,
  onEvent: (mark: string, at: number[]) => void,
): () => Promise<void> {
  const path = `/api/v1/namespaces/${NS}/pods?watch=1&resourceVersion=${revision}`;
  const used = Math.min(threads, count);
  const workers = Array.from({ length: used }, (_, t) => {
    const share = Math.floor(count / used) + (t < count % used ? 1 : 0);
    const data: WatchClientsData = { url: api.url, pki: join(api.dir, 'pki'), path, count: share };
    const worker = new Worker(new URL('./lib/watch-clients.js', import.meta.url), {
      workerData: data,
    });
    worker.on('message', (m: Arrivals) => onEvent(m.mark, m.at));
    worker.on('error', (err) => {
      throw err;
    });
    return worker;
  });
  return async () => {
    await Promise.all(workers.map((w) => w.terminate()));
  };
}

interface Fanout {
  /** ms from each write to each watcher's decoding of it. */
  latencies: number[];
  /** The API server's CPU µs per event delivered to one watcher, over the timed writes. */
  serverCpuUsPerDelivery: number;
}

async function fanout(count: number): Promise<Fanout> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-fanout-'));
  const storeUrl = `sqlite:${join(dir, 'store.db')}`;
  const store = await openStore(storeUrl);
  const api = await startApiServer(join(dir, 'api'), storeUrl);
  try {
    const { revision } = await store.list(objectKey('Pod', NS, ''));
    const arrivals = new Map<string, number[]>();
    const stop = watchers(api, count, revision, (mark, at) => arrivals.get(mark)?.push(...at));
    try {
      // Every watcher is connected once a first write reaches all of them.
      const ready = 'ready';
      arrivals.set(ready, []);
      const warm = benchPod(NS, 'warm', 0);
      warm.metadata.labels = { mark: ready };
      await store.put(objectKey('Pod', NS, 'warm'), JSON.stringify(warm));
      for (let i = 0; arrivals.get(ready)!.length < count; i++) {
        if (i > 1200)
          throw new Error(
            `only ${arrivals.get(ready)!.length} of ${count} watchers connected in 120 s`,
          );
        await sleep(100);
      }
      const latencies: number[] = [];
      const cpu0 = cpuMs(api.pid);
      for (let w = 0; w < writes; w++) {
        const mark = `m${w}`;
        const seen: number[] = [];
        arrivals.set(mark, seen);
        const pod = benchPod(NS, `pod-${w}`, w);
        pod.metadata.labels = { mark };
        const t0 = sharedNow();
        await store.put(objectKey('Pod', NS, pod.metadata.name), JSON.stringify(pod));
        const deadline = t0 + 30_000;
        while (seen.length < count && sharedNow() < deadline) await sleep(2);
        if (seen.length < count)
          throw new Error(`write ${w} reached ${seen.length} of ${count} watchers in 30 s`);
        latencies.push(...seen.map((t) => t - t0));
        arrivals.delete(mark);
        await sleep(20 + Math.random() * 30);
      }
      const serverCpuUsPerDelivery = ((cpuMs(api.pid) - cpu0) * 1000) / (writes * count);
      return { latencies, serverCpuUsPerDelivery };
    } finally {
      await stop();
    }
  } finally {
    await api.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(
  `${'watchers'.padEnd(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'server CPU µs/delivery'.padStart(24)}`,
);
const lines: string[] = [];
for (const count of sizes) {
  const started = performance.now();
  const { latencies, serverCpuUsPerDelivery } = await fanout(count);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(
    `${String(count).padEnd(10)}${p50.toFixed(1).padStart(10)}${p99.toFixed(1).padStart(10)}${serverCpuUsPerDelivery.toFixed(1).padStart(24)}`,
  );
  console.error(`${count} watchers: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  lines.push(
    `BENCH watch-fanout watchers_${count} p50_ms=${p50.toFixed(1)} p99_ms=${p99.toFixed(1)} anchor=${GOAL_P99_MS} ratio=${(p99 / GOAL_P99_MS).toFixed(3)} client_threads=${Math.min(threads, count)} server_cpu_us_per_delivery=${serverCpuUsPerDelivery.toFixed(1)}`,
  );
}
for (const line of lines) console.log(line);
