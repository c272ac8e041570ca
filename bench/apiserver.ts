// API server benchmark, SQLite and etcd, each on a store holding 10,000 pods, every figure
// beside the store itself in the same run (the anchor):
// - list: all pods through `GET /api/v1/namespaces/bench/pods` (received and JSON-decoded)
//   against listObjects on the store, the two taken in turns so that a machine whose load
//   swings weighs on both alike (median of 7 each). Goal: <= 1.5x.
// - single object: create, get and merge-patch through the API, one request every 5 ms
//   (200/s, open loop: each latency is counted from the call's scheduled start), against the
//   store making the very operation the API's write makes, at the same rate: a create is a
//   compare-and-swap from revision 0 that also names the ClusterNetwork and the namespace at
//   their revisions (one etcd Txn of three compares), a patch one from the object's revision
//   that names the ClusterNetwork, of an object of the same stored size; a get is a get.
//   Goal: p99 <= the store's p99 + 5 ms. 3,000 samples per figure, so that a p99 is the 30th
//   slowest call, not the second; the spread is the lowest and highest API p99 minus store p99
//   over the thirds of the run (1,000 samples each). The client's connections are opened
//   before each API round (16, kept alive), so a timed call never pays for a TLS handshake.
//   The API and the store take turns every second (rounds of 200 calls, each verb's API round
//   beside its store round, the one going first alternating), so that a machine whose load
//   swings weighs on both alike rather than on whichever ran in its worse seconds.
// - watch fan-out: 100 concurrent API watchers see each put made on the store, against the
//   store's own watch of the same puts. Goal: p99 <= the store watch's p99 + 10 ms.
// Usage: node dist/bench/apiserver.js [sqlite|etcd] (default both; one store halves the run).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/open.js';
import { listObjects, objectKey } from '../src/store/objects.js';
import type { KeyRevision, Store } from '../src/store/store.js';
import type { Pod } from '../src/api/types.js';
import { startEtcd } from '../test/helpers/etcd.js';
import { startApiServer, type RunningApiServer } from '../test/helpers/apiserver.js';
import { benchPod } from './lib/pods.js';
import { percentile } from './lib/stats.js';

const PODS = 10_000;
const RATE_GAP_MS = 5;
/** Calls per round: one second at the rate. */
const ROUND_SAMPLES = 200;
const SINGLE_ROUNDS = 15;
const SINGLE_SAMPLES = ROUND_SAMPLES * SINGLE_ROUNDS;
/** Parts of the run whose p99s give the spread: 1,000 samples each. */
const SPREAD_PARTS = 3;
const WATCHERS = 100;
const WATCH_SAMPLES = 100;
const NS = 'bench';

const ms = (n: number): string => n.toFixed(2);
const sleep = (n: number) => new Promise<void>((r) => setTimeout(r, n));

function podObject(name: string, i: number): Pod {
  return benchPod(NS, name, i);
}

/** CPU time (user and system) the process has used, in ms. */
function cpuMs(pid: number): number {
  // /proc/PID/stat: fields 14 and 15, counted after the command name's closing parenthesis.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}
const CLOCK_TICKS_PER_S = 100;

/**
 * HTTPS to the API server as the admin, over at most `maxSockets` kept-alive connections. A
 * request finding them all busy waits for one (its wait counts in its latency), as a request
 * of client-go waits for its turn on its one HTTP/2 connection: a timed call opens no new TLS
 * session, which is the client's connection setup and not the per-request work measured here.
 */
class Client {
  private readonly agent: Agent;
  /** Requests that had to open a connection (reported, so that a timed phase shows it had none). */
  opened = 0;
  private readonly sockets = new WeakSet<object>();
  constructor(
    private readonly api: RunningApiServer,
    private readonly maxSockets = 16,
  ) {
    const pki = join(api.dir, 'pki');
    this.agent = new Agent({
      keepAlive: true,
      maxSockets,
      ca: readFileSync(join(pki, 'ca.crt')),
      cert: readFileSync(join(pki, 'admin.crt')),
      key: readFileSync(join(pki, 'admin.key')),
    });
  }
  call(method: string, path: string, body?: unknown, contentType = 'application/json') {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${this.api.url}${path}`,
        { method, agent: this.agent, headers: { 'Content-Type': contentType } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.on('socket', (socket) => {
        if (this.sockets.has(socket)) return;
        this.sockets.add(socket);
        this.opened++;
      });
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
  /** Opens every connection the client may use, before a timed phase. */
  async warm(): Promise<void> {
    await Promise.all(
      Array.from({ length: this.maxSockets }, async () =>
        expectOk(await this.call('GET', '/version'), 'warm up'),
      ),
    );
    this.opened = 0;
  }
  /**
   * A watch whose each event line is handed to `onLine`; returns its stop. The server sends
   * its headers with the first event, so nothing is awaited here.
   */
  watch(path: string, onLine: (line: string) => void): () => void {
    const req = request(`${this.api.url}${path}`, { agent: this.agent }, (res) => {
      let rest = '';
      res.on('data', (c: Buffer) => {
        const lines = (rest + c.toString()).split('\n');
        rest = lines.pop()!;
        for (const l of lines) if (l) onLine(l);
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined);
    req.end();
    return () => req.destroy();
  }
  close() {
    this.agent.destroy();
  }
}

async function fillPods(store: Store): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < PODS) {
        const i = next++;
        const pod = podObject(`pod-${String(i).padStart(5, '0')}`, i);
        await store.put(objectKey('Pod', NS, pod.metadata.name), JSON.stringify(pod));
      }
    }),
  );
}

const LIST_SAMPLES = 7;

/** The median time of each way of listing every pod, the ways taken in turns. */
async function listMedians<K extends string>(
  ways: Record<K, () => Promise<number>>,
): Promise<Record<K, number>> {
  const times = new Map<K, number[]>();
  for (let i = 0; i < LIST_SAMPLES; i++) {
    for (const [way, list] of Object.entries(ways) as [K, () => Promise<number>][]) {
      const t0 = performance.now();
      const n = await list();
      times.set(way, [...(times.get(way) ?? []), performance.now() - t0]);
      if (n !== PODS) throw new Error(`${way}: listed ${n} pods, not ${PODS}`);
    }
  }
  return Object.fromEntries([...times].map(([way, t]) => [way, percentile(t, 50)])) as Record<
    K,
    number
  >;
}

/**
 * Starts one call every RATE_GAP_MS (not waiting for the last) and returns each latency,
 * counted from the call's scheduled start rather than from when it began. A stall of the
 * bench's own process (the SQLite anchor is a synchronous call in it) then shows in the
 * latency of every call it held back, on the store's side as on the API's, instead of only
 * delaying their starts.
 */
async function atRate(samples: number, call: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  const running: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < samples; i++) {
    const due = start + i * RATE_GAP_MS;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    // A timer may wake up to 1 ms before it is due: such a call counts from its real start.
    const from = Math.min(due, performance.now());
    running.push(
      (async () => {
        await call(i);
        latencies.push(performance.now() - from);
      })(),
    );
  }
  await Promise.all(running);
  return latencies;
}

interface Figures {
  list: { api: number; store: number };
  single: Record<'create' | 'get' | 'patch' | 'storeCreate' | 'storeGet' | 'storePatch', number[]>;
  /** The stored size of the API's first pod after its patch, and of the anchor's. */
  storedBytes: { api: number; store: number };
  /** Connections each API phase had to open while timed (0 when the warm pool sufficed). */
  opened: Record<'create' | 'get' | 'patch', number>;
  /** The API server's CPU time per call in each phase, which a busy machine does not inflate. */
  cpuPerCall: Record<'create' | 'get' | 'patch', number>;
  watch: { api: number[]; store: number[] };
}

function expectOk(r: { status: number; body: string }, what: string) {
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.body.slice(0, 200)}`);
}

/**
 * The store's side of the single-object figures: the very compare-and-swap the API server's
 * create and merge patch make on a primed cache (see admission-reads.ts), on objects of the
 * stored shape of a pod the API has created, so that the two differ only by the API's own
 * work. The values are made before any timed call.
 */
async function anchorWrites(store: Store, client: Client) {
  expectOk(
    await client.call('POST', `/api/v1/namespaces/${NS}/pods`, podObject('shape', 0)),
    'create shape',
  );
  const shape = JSON.parse((await store.get(objectKey('Pod', NS, 'shape')))!.value) as Pod;
  const at = async (key: string): Promise<KeyRevision> => ({
    key,
    modRevision: (await store.get(key))?.modRevision ?? 0,
  });
  const network = await at(objectKey('ClusterNetwork', undefined, 'default'));
  const home = await at(objectKey('Namespace', undefined, NS));
  const key = (i: number) => objectKey('Pod', NS, `direct-${i}`);
  /** The API's stored pod `i` as it would be stored, named `direct-i`, before and after its patch. */
  const stored = (i: number, patched: boolean): string => {
    const pod = podObject(`direct-${i}`, i);
    const labels = { ...pod.metadata.labels, ...(patched ? { patched: 'yes' } : {}) };
    return JSON.stringify({
      ...shape,
      metadata: { ...shape.metadata, name: pod.metadata.name, uid: randomUUID(), labels },
      spec: { ...shape.spec, nodeName: pod.spec.nodeName },
      status: { ...shape.status, podIP: pod.status!.podIP },
    });
  };
  const created = Array.from({ length: SINGLE_SAMPLES }, (_, i) => stored(i, false));
  const patched = Array.from({ length: SINGLE_SAMPLES }, (_, i) => stored(i, true));
  const revisions: number[] = [];
  return {
    key,
    create: async (i: number) => {
      const r = await store.compareAndSwap(key(i), created[i]!, 0, { unchanged: [network, home] });
      if (!r.ok) throw new Error(`${key(i)}: anchor create refused`);
      revisions[i] = r.revision;
    },
    patch: async (i: number) => {
      const r = await store.compareAndSwap(key(i), patched[i]!, revisions[i]!, {
        unchanged: [network],
      });
      if (!r.ok) throw new Error(`${key(i)}: anchor patch refused`);
    },
  };
}

async function measure(storeUrl: string, dir: string): Promise<Figures> {
  const store = await openStore(storeUrl);
  const api = await startApiServer(dir, storeUrl);
  const client = new Client(api);
  try {
    expectOk(
      await client.call('POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: NS },
      }),
      'create namespace',
    );
    await fillPods(store);

    const list = await listMedians({
      api: async () => {
        const r = await client.call('GET', `/api/v1/namespaces/${NS}/pods`);
        expectOk(r, 'list');
        return (JSON.parse(r.body) as { items: unknown[] }).items.length;
      },
      store: async () => (await listObjects(store, 'Pod', NS)).items.length,
    });

    const path = (name: string) => `/api/v1/namespaces/${NS}/pods/${name}`;
    const anchor = await anchorWrites(store, client);
    const opened = { create: 0, get: 0, patch: 0 };
    const cpuPerCall = { create: 0, get: 0, patch: 0 };
    const single: Figures['single'] = {
      create: [],
      get: [],
      patch: [],
      storeCreate: [],
      storeGet: [],
      storePatch: [],
    };
    /** One round of a phase: samples `first`.. of it, at the rate. */
    const round = async (
      phase: keyof Figures['single'],
      first: number,
      call: (i: number) => Promise<void>,
    ) => single[phase].push(...(await atRate(ROUND_SAMPLES, (i) => call(first + i))));
    const apiRound = async (
      phase: keyof typeof opened,
      first: number,
      call: (i: number) => Promise<void>,
    ) => {
      await client.warm();
      const cpu0 = cpuMs(api.pid);
      await round(phase, first, call);
      cpuPerCall[phase] += (cpuMs(api.pid) - cpu0) / SINGLE_SAMPLES;
      opened[phase] += client.opened;
    };
    /** The API's round and the store's, the API first in even rounds and second in odd ones. */
    const inTurn = async (r: number, api: () => Promise<unknown>, bare: () => Promise<unknown>) => {
      for (const step of r % 2 === 0 ? [api, bare] : [bare, api]) await step();
    };
    for (let r = 0; r < SINGLE_ROUNDS; r++) {
      const first = r * ROUND_SAMPLES;
      await inTurn(
        r,
        () =>
          apiRound('create', first, async (i) =>
            expectOk(
              await client.call('POST', `/api/v1/namespaces/${NS}/pods`, podObject(`api-${i}`, i)),
              'create',
            ),
          ),
        () => round('storeCreate', first, (i) => anchor.create(i)),
      );
      await inTurn(
        r,
        () =>
          apiRound('get', first, async (i) =>
            expectOk(await client.call('GET', path(`api-${i}`)), 'get'),
          ),
        () =>
          round('storeGet', first, async (i) => {
            if (!(await store.get(anchor.key(i)))) throw new Error(`${anchor.key(i)}: missing`);
          }),
      );
      await inTurn(
        r,
        () =>
          apiRound('patch', first, async (i) =>
            expectOk(
              await client.call(
                'PATCH',
                path(`api-${i}`),
                { metadata: { labels: { patched: 'yes' } } },
                'application/merge-patch+json',
              ),
              'patch',
            ),
          ),
        () => round('storePatch', first, (i) => anchor.patch(i)),
      );
    }
    const storedBytes = {
      api: (await store.get(objectKey('Pod', NS, 'api-0')))!.value.length,
      store: (await store.get(anchor.key(0)))!.value.length,
    };

    // Watch fan-out: every watcher and the store's own watch see the same puts of one pod.
    const watched = 'watched';
    const key = objectKey('Pod', NS, watched);
    const seen = new Map<string, { api: number[]; store?: number }>();
    const { revision } = await store.list(key);
    const storeWatch = store.watch(key, revision + 1, {
      onEvents: (es) => {
        const t = performance.now();
        for (const e of es) {
          if (e.type !== 'put') continue;
          const mark = (JSON.parse(e.kv.value) as Pod).metadata.labels?.mark ?? '';
          const entry = seen.get(mark);
          if (entry) entry.store = t;
        }
      },
      onError: (e) => {
        throw e;
      },
    });
    const watchClient = new Client(api, WATCHERS + 4);
    const stops = Array.from({ length: WATCHERS }, () =>
      watchClient.watch(
        `/api/v1/namespaces/${NS}/pods?watch=1&resourceVersion=${revision}&fieldSelector=metadata.name%3D${watched}`,
        (line) => {
          const t = performance.now();
          const event = JSON.parse(line) as { object: Pod };
          seen.get(event.object.metadata.labels?.mark ?? '')?.api.push(t);
        },
      ),
    );
    await sleep(2000);
    const api99: number[] = [];
    const store99: number[] = [];
    for (let i = 0; i < WATCH_SAMPLES; i++) {
      const mark = `m${i}`;
      const entry = { api: [] as number[], store: undefined as number | undefined };
      seen.set(mark, entry);
      const pod = podObject(watched, i);
      pod.metadata.labels = { mark };
      const t0 = performance.now();
      await store.put(key, JSON.stringify(pod));
      const deadline = performance.now() + 5000;
      while (
        (entry.api.length < WATCHERS || entry.store === undefined) &&
        performance.now() < deadline
      )
        await sleep(1);
      if (entry.api.length < WATCHERS || entry.store === undefined) {
        throw new Error(`event ${mark} reached ${entry.api.length} watchers in 5 s`);
      }
      api99.push(...entry.api.map((t) => t - t0));
      store99.push(entry.store - t0);
      await sleep(Math.random() * 20);
    }
    for (const stop of stops) stop();
    watchClient.close();
    await storeWatch.cancel();
    return {
      list,
      single,
      storedBytes,
      opened,
      cpuPerCall,
      watch: { api: api99, store: store99 },
    };
  } finally {
    client.close();
    await api.stop();
    await store.close();
  }
}

const signed = (n: number): string => `${n >= 0 ? '+' : ''}${ms(n)}`;

/**
 * The lowest and highest (API p99 - store p99) over the parts of the run (each of whole
 * rounds, 1,000 samples a side): how far the verdict swings with the machine's load.
 */
function partSpread(api: number[], anchor: number[]): string {
  const size = SINGLE_SAMPLES / SPREAD_PARTS;
  const overs = Array.from({ length: SPREAD_PARTS }, (_, part) => {
    const slice = (v: number[]) => v.slice(part * size, (part + 1) * size);
    return percentile(slice(api), 99) - percentile(slice(anchor), 99);
  });
  return `${signed(Math.min(...overs))}..${signed(Math.max(...overs))}`;
}

function report(backend: string, f: Figures): string[] {
  const lines: string[] = [];
  const row = (what: string, p50: number, p99: number) =>
    console.log(`${what.padEnd(34)}${ms(p50).padStart(10)}${ms(p99).padStart(10)}`);
  console.log(`\n== ${backend}: ${PODS} pods`);
  console.log(`${`list all pods (median of ${LIST_SAMPLES})`.padEnd(34)}${'ms'.padStart(10)}`);
  console.log(`${'  API'.padEnd(34)}${ms(f.list.api).padStart(10)}`);
  console.log(`${'  store listObjects (anchor)'.padEnd(34)}${ms(f.list.store).padStart(10)}`);
  console.log(
    `${'single object at 200/s'.padEnd(34)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`,
  );
  const s = f.single;
  for (const [what, v] of [
    ['  API create', s.create],
    ['  API get', s.get],
    ['  API patch', s.patch],
    ['  store create (anchor)', s.storeCreate],
    ['  store get (anchor)', s.storeGet],
    ['  store patch (anchor)', s.storePatch],
  ] as const)
    row(what, percentile(v, 50), percentile(v, 99));
  console.log(
    `${`  p99 over the store, per ${SINGLE_SAMPLES / SPREAD_PARTS}`.padEnd(34)}create ${partSpread(s.create, s.storeCreate)}, get ${partSpread(s.get, s.storeGet)}, patch ${partSpread(s.patch, s.storePatch)}`,
  );
  console.log(
    `${'  stored bytes of a patched pod'.padEnd(34)}API ${f.storedBytes.api}, anchor ${f.storedBytes.store}`,
  );
  console.log(
    `${'  connections opened while timed'.padEnd(34)}create ${f.opened.create}, get ${f.opened.get}, patch ${f.opened.patch}`,
  );
  const cpu = f.cpuPerCall;
  console.log(
    `${'  server CPU ms per call'.padEnd(34)}create ${ms(cpu.create)}, get ${ms(cpu.get)}, patch ${ms(cpu.patch)}`,
  );
  console.log(
    `${`watch delivery, ${WATCHERS} watchers`.padEnd(34)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`,
  );
  row('  API watchers', percentile(f.watch.api, 50), percentile(f.watch.api, 99));
  row('  store watch (anchor)', percentile(f.watch.store, 50), percentile(f.watch.store, 99));

  const bench = (metric: string, value: number, anchor: number, extra = '') =>
    lines.push(
      `BENCH apiserver-${backend} ${metric}=${ms(value)} anchor=${ms(anchor)} ratio=${(value / anchor).toFixed(2)}${extra && ` ${extra}`}`,
    );
  bench('list_10000_pods_ms', f.list.api, f.list.store);
  const p99Over = (api: number[], anchor: number[]) =>
    `over=${signed(percentile(api, 99) - percentile(anchor, 99))} spread=${partSpread(api, anchor)}`;
  const singles: [string, number[], number[]][] = [
    ['create', s.create, s.storeCreate],
    ['get', s.get, s.storeGet],
    ['patch', s.patch, s.storePatch],
  ];
  for (const [verb, api, store] of singles) {
    bench(`${verb}_p50_ms`, percentile(api, 50), percentile(store, 50));
    bench(`${verb}_p99_ms`, percentile(api, 99), percentile(store, 99), p99Over(api, store));
  }
  bench('watch_p99_ms', percentile(f.watch.api, 99), percentile(f.watch.store, 99));
  for (const [verb, cpu] of Object.entries(f.cpuPerCall)) {
    lines.push(`BENCH apiserver-${backend} ${verb}_server_cpu_ms=${ms(cpu)}`);
  }
  return lines;
}

/** The stores the command line names (all of them when it names none). */
function storesToRun(args: string[]): ('sqlite' | 'etcd')[] {
  const bad = args.find((a) => a !== 'sqlite' && a !== 'etcd');
  if (bad !== undefined) {
    console.error(`apiserver bench: unknown store ${bad}; use sqlite, etcd or both (the default)`);
    process.exit(2);
  }
  return args.length === 0 ? ['sqlite', 'etcd'] : (args as ('sqlite' | 'etcd')[]);
}

async function main(): Promise<void> {
  const stores = storesToRun(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'podnet-bench-apiserver-'));
  const cluster = stores.includes('etcd') ? await startEtcd(1) : undefined;
  const lines: string[] = [];
  try {
    if (stores.includes('sqlite')) {
      lines.push(
        ...report('sqlite', await measure(`sqlite:${join(dir, 'store.db')}`, join(dir, 'sqlite'))),
      );
    }
    if (cluster) lines.push(...report('etcd', await measure(cluster.storeUrl, join(dir, 'etcd'))));
    console.log('');
    for (const l of lines) console.log(l);
  } finally {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
