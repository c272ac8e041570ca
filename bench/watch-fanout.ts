// Watch delivery at scale: 100 and 1,000 watchers of pods, each a lightweight client with its
// own HTTPS watch through `podnet apiserver` (as every node agent and kubelet of a large
// cluster holds one), see pod writes made on the store. Figure: the time from each write until
// each watcher has decoded its event, p50 and p99 over every (write, watcher) pair. The anchor
// is Kubernetes' SLO for single-object calls, 1 s at p99, which is also the issue's goal for
// watch delivery at 1,000 watchers.
//   node dist/bench/watch-fanout.js [--watchers 100,1000] [--writes 50]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Pod } from '../src/api/types.js';
import { objectKey } from '../src/store/objects.js';
import { openStore } from '../src/store/open.js';
import { startApiServer, type RunningApiServer } from '../test/helpers/apiserver.js';
import { benchPod } from './lib/pods.js';
import { percentile } from './lib/stats.js';

const NS = 'fanout';
const GOAL_P99_MS = 1000;

const { values } = parseArgs({
  options: {
    watchers: { type: 'string', default: '100,1000' },
    writes: { type: 'string', default: '50' },
  },
});
const sizes = values.watchers.split(',').map(Number);
const writes = Number(values.writes);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `count` watches of every pod in NS from `revision`; each decoded event's arrival is told. */
function watchers(
  api: RunningApiServer,
  count: number,
  revision: number,
  onEvent: (mark: string, at: number) => void,
): () => void {
  const pki = join(api.dir, 'pki');
  const agent = new Agent({
    keepAlive: true,
    maxSockets: count,
    ca: readFileSync(join(pki, 'ca.crt')),
    cert: readFileSync(join(pki, 'admin.crt')),
    key: readFileSync(join(pki, 'admin.key')),
  });
  const path = `/api/v1/namespaces/${NS}/pods?watch=1&resourceVersion=${revision}`;
  const requests = Array.from({ length: count }, () => {
    const req = request(`${api.url}${path}`, { agent }, (res) => {
      let rest = '';
      res.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop()!;
        const at = performance.now();
        for (const line of lines) {
          if (!line) continue;
          const event = JSON.parse(line) as { object: Pod };
          onEvent(event.object.metadata.labels?.mark ?? '', at);
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined);
    req.end();
    return req;
  });
  return () => {
    for (const req of requests) req.destroy();
    agent.destroy();
  };
}

async function fanout(count: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'podnet-fanout-'));
  const storeUrl = `sqlite:${join(dir, 'store.db')}`;
  const store = await openStore(storeUrl);
  const api = await startApiServer(join(dir, 'api'), storeUrl);
  try {
    const { revision } = await store.list(objectKey('Pod', NS, ''));
    const arrivals = new Map<string, number[]>();
    const stop = watchers(api, count, revision, (mark, at) => arrivals.get(mark)?.push(at));
    // Every watcher is connected once a first write reaches all of them.
    const ready = 'ready';
    arrivals.set(ready, []);
    const warm = benchPod(NS, 'warm', 0);
    warm.metadata.labels = { mark: ready };
    await store.put(objectKey('Pod', NS, 'warm'), JSON.stringify(warm));
    for (let i = 0; arrivals.get(ready)!.length < count; i++) {
      if (i > 600)
        throw new Error(
          `only ${arrivals.get(ready)!.length} of ${count} watchers connected in 60 s`,
        );
      await sleep(100);
    }
    const latencies: number[] = [];
    for (let w = 0; w < writes; w++) {
      const mark = `m${w}`;
      const seen: number[] = [];
      arrivals.set(mark, seen);
      const pod = benchPod(NS, `pod-${w}`, w);
      pod.metadata.labels = { mark };
      const t0 = performance.now();
      await store.put(objectKey('Pod', NS, pod.metadata.name), JSON.stringify(pod));
      const deadline = t0 + 30_000;
      while (seen.length < count && performance.now() < deadline) await sleep(2);
      if (seen.length < count)
        throw new Error(`write ${w} reached ${seen.length} of ${count} watchers in 30 s`);
      latencies.push(...seen.map((t) => t - t0));
      arrivals.delete(mark);
      await sleep(20 + Math.random() * 30);
    }
    stop();
    return latencies;
  } finally {
    await api.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${'watchers'.padEnd(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`);
const lines: string[] = [];
for (const count of sizes) {
  const started = performance.now();
  const latencies = await fanout(count);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(
    `${String(count).padEnd(10)}${p50.toFixed(1).padStart(10)}${p99.toFixed(1).padStart(10)}`,
  );
  console.error(`${count} watchers: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  lines.push(
    `BENCH watch-fanout watchers_${count} p50_ms=${p50.toFixed(1)} p99_ms=${p99.toFixed(1)} anchor=${GOAL_P99_MS} ratio=${(p99 / GOAL_P99_MS).toFixed(3)}`,
  );
}
for (const line of lines) console.log(line);
