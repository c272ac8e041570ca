// Store benchmark: watch latency (put → event at a watcher) and listing 10,000 pods, for both
// backends, beside etcdctl measured in the same run.
//
// Watch, etcd: each put is seen by podnet's watch and by a running `etcdctl watch` at once, so
// both latencies are measured from the same put (paired; the difference is what podnet's watch
// path adds). Watch, sqlite: the watcher is a second connection to the file (as another process
// would be), polling. List: podnet's listObjects (JSON decoded) against `etcdctl get --prefix`
// (a process, as users run it). Goals: etcd adds < 2 ms p50; sqlite p99 < 100 ms.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openStore } from '../src/store/open.js';
import { listObjects, objectKey } from '../src/store/objects.js';
import type { Store } from '../src/store/store.js';
import type { Pod } from '../src/api/types.js';
import { startEtcd } from '../test/helpers/etcd.js';
import { benchPod } from './lib/pods.js';
import { percentile } from './lib/stats.js';

const SAMPLES = 300;
const PODS = 10_000;

const ms = (n: number): string => n.toFixed(2);

/** Resolvers waiting for the value `v` to arrive at a watcher. */
class Arrivals {
  private readonly waiting = new Map<string, (t: number) => void>();
  expect(value: string): Promise<number> {
    return new Promise((resolve) => this.waiting.set(value, resolve));
  }
  arrived(value: string): void {
    const t = performance.now();
    this.waiting.get(value)?.(t);
    this.waiting.delete(value);
  }
}

/** put → event latency at podnet's watch (and at etcdctl's, when given). */
async function watchLatency(
  writer: Store,
  watcher: Store,
  prefix: string,
  etcdctl?: { endpoints: string },
): Promise<{ podnet: number[]; etcdctl: number[] }> {
  const mine = new Arrivals();
  const theirs = new Arrivals();
  const w = watcher.watch(prefix, 0, {
    onEvents: (es) => es.forEach((e) => e.type === 'put' && mine.arrived(e.kv.value)),
    onError: (e) => {
      throw e;
    },
  });
  const ctl = etcdctl
    ? spawn('etcdctl', [`--endpoints=${etcdctl.endpoints}`, 'watch', '--prefix', prefix], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ETCDCTL_API: '3' },
      })
    : undefined;
  if (ctl) {
    // etcdctl prints each event as three lines: PUT, key, value.
    let line = 0;
    createInterface({ input: ctl.stdout! }).on('line', (l) => {
      if (line++ % 3 === 2) theirs.arrived(l);
    });
    // Wait until etcdctl's watch is in place: a warm-up put it must report.
    for (let i = 0; ; i++) {
      const seen = theirs.expect(`warm-${i}`);
      await writer.put(`${prefix}k`, `warm-${i}`);
      const ok = await Promise.race([seen.then(() => true), sleep(200).then(() => false)]);
      if (ok) break;
    }
  }
  await sleep(100);
  const podnet: number[] = [];
  const anchor: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const value = `v${i}`;
    const a = mine.expect(value);
    const b = ctl ? theirs.expect(value) : undefined;
    const t0 = performance.now();
    await writer.put(`${prefix}k`, value);
    podnet.push((await a) - t0);
    if (b) anchor.push((await b) - t0);
    // A random gap, so that puts do not fall into step with the sqlite watcher's polling.
    await sleep(Math.random() * 20);
  }
  await w.cancel();
  ctl?.kill();
  return { podnet, etcdctl: anchor };
}

function sleep(n: number): Promise<void> {
  return new Promise((r) => setTimeout(r, n));
}

/** A bench pod as a controller-made one is stored: with a uid, creation time and template hash. */
function podObject(i: number): Pod {
  const pod = benchPod('bench', `pod-${String(i).padStart(5, '0')}`, i);
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: { ...pod.metadata.labels, 'pod-template-hash': '5d8f7c9b4' },
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    status: { ...pod.status, conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

async function fillPods(store: Store): Promise<void> {
  const inFlight = 32;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < PODS) {
        const pod = podObject(next++);
        await store.put(objectKey('Pod', 'bench', pod.metadata.name), JSON.stringify(pod));
      }
    }),
  );
}

async function listTime(store: Store): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const { items } = await listObjects(store, 'Pod', 'bench');
    times.push(performance.now() - t0);
    if (items.length !== PODS) throw new Error(`listed ${items.length} pods, not ${PODS}`);
  }
  return percentile(times, 50);
}

function etcdctlListTime(endpoints: string): number {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = spawnSync(
      'etcdctl',
      [`--endpoints=${endpoints}`, 'get', '--prefix', '/podnet/pods/bench/', '--print-value-only'],
      { env: { ...process.env, ETCDCTL_API: '3' }, maxBuffer: 1 << 30 },
    );
    times.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`etcdctl get failed: ${r.stderr}`);
  }
  return percentile(times, 50);
}

async function main(): Promise<void> {
  const cluster = await startEtcd(1);
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-store-'));
  const stores: Store[] = [];
  const open = async (url: string): Promise<Store> => {
    const s = await openStore(url);
    stores.push(s);
    return s;
  };
  try {
    const etcdWriter = await open(cluster.storeUrl);
    const etcdWatcher = await open(cluster.storeUrl);
    const etcdWatch = await watchLatency(etcdWriter, etcdWatcher, '/bench/watch/', {
      endpoints: cluster.endpoints,
    });
    const sqliteUrl = `sqlite:${join(dir, 'store.db')}`;
    const sqliteWriter = await open(sqliteUrl);
    const sqliteWatcher = await open(sqliteUrl);
    const sqliteWatch = await watchLatency(sqliteWriter, sqliteWatcher, '/bench/watch/');

    await fillPods(etcdWriter);
    await fillPods(sqliteWriter);
    const etcdList = await listTime(etcdWriter);
    const sqliteList = await listTime(sqliteWriter);
    const ctlList = etcdctlListTime(cluster.endpoints);

    const rows = [
      ['watch put→event', 'p50 ms', 'p99 ms'],
      [
        'etcdctl watch (anchor)',
        ms(percentile(etcdWatch.etcdctl, 50)),
        ms(percentile(etcdWatch.etcdctl, 99)),
      ],
      ['podnet etcd', ms(percentile(etcdWatch.podnet, 50)), ms(percentile(etcdWatch.podnet, 99))],
      [
        'podnet sqlite',
        ms(percentile(sqliteWatch.podnet, 50)),
        ms(percentile(sqliteWatch.podnet, 99)),
      ],
    ];
    for (const r of rows)
      console.log(`${r[0]!.padEnd(26)}${r[1]!.padStart(10)}${r[2]!.padStart(10)}`);
    console.log(`\nlist ${PODS} pods (median of 5)`);
    console.log(`${'etcdctl get --prefix'.padEnd(26)}${ms(ctlList).padStart(10)} ms`);
    console.log(`${'podnet etcd listObjects'.padEnd(26)}${ms(etcdList).padStart(10)} ms`);
    console.log(`${'podnet sqlite listObjects'.padEnd(26)}${ms(sqliteList).padStart(10)} ms\n`);

    const a50 = percentile(etcdWatch.etcdctl, 50);
    const a99 = percentile(etcdWatch.etcdctl, 99);
    const line = (metric: string, value: number, anchor: number): void =>
      console.log(
        `BENCH store-watch ${metric}=${ms(value)} anchor=${ms(anchor)} ratio=${(value / anchor).toFixed(2)}`,
      );
    line('etcd_watch_p50_ms', percentile(etcdWatch.podnet, 50), a50);
    line('etcd_watch_p99_ms', percentile(etcdWatch.podnet, 99), a99);
    console.log(
      `BENCH store-watch etcd_watch_added_p50_ms=${ms(percentile(etcdWatch.podnet, 50) - a50)} goal=<2`,
    );
    line('sqlite_watch_p50_ms', percentile(sqliteWatch.podnet, 50), a50);
    line('sqlite_watch_p99_ms', percentile(sqliteWatch.podnet, 99), a99);
    line('etcd_list_10000_pods_ms', etcdList, ctlList);
    line('sqlite_list_10000_pods_ms', sqliteList, ctlList);
  } finally {
    for (const s of stores) await s.close();
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
