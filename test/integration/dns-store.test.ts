// `podnet dns` following a real store (a temp SQLite file this test writes): answers appear
// within a second of an apply and disappear within a second of a delete; metrics are served.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { planEndpointSlices } from '../../src/api/endpoint-slices.js';
import type { Pod, Service } from '../../src/api/types.js';
import { applyObject, deleteObject, listObjects } from '../../src/store/objects.js';
import type { Store } from '../../src/store/store.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  SERVER_IP,
  digIn,
  nodeIn,
  namespacePair,
  type NamespacePair,
} from '../helpers/dns-netns.js';
import { fixtureObjects, pod, service } from '../helpers/dns-fixtures.js';

let pair: NamespacePair;
const dir = mkdtempSync(join(tmpdir(), 'podnet-dns-store-'));
const storeUrl = `sqlite:${join(dir, 'store.db')}`;
const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;
const S = 'my-namespace.svc.cluster.local';
let server: ChildProcess | undefined;
let store: Store;

/** One quick try: the tests poll, so a slow answer is just another round. */
const QUICK = { time: 1, tries: 1 };

function short(name: string, type = 'A'): string[] {
  try {
    const out = digIn(pair.clientNs, SERVER_IP, ['+short', name, type], QUICK);
    return out.trim().split('\n').filter(Boolean).sort();
  } catch {
    return ['(no answer)'];
  }
}

function status(name: string): string {
  const out = digIn(pair.clientNs, SERVER_IP, [name], QUICK);
  return /status: (\w+)/.exec(out)?.[1] ?? '?';
}

async function until(check: () => boolean, ms: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

before(async () => {
  sweepStaleNamespaces();
  pair = namespacePair();
  store = await openStore(storeUrl);
  for (const obj of fixtureObjects()) await applyObject(store, obj);
  server = spawn(
    'ip',
    [
      'netns',
      'exec',
      pair.serverNs,
      podnet,
      'dns',
      '--store',
      storeUrl,
      '--listen',
      SERVER_IP,
      '--metrics',
      `${SERVER_IP}:9153`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await until(() => short(`my-svc.${S}`)[0] === '10.96.0.20', 20_000);
});

after(async () => {
  server?.kill('SIGTERM');
  await store?.close();
  pair?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('dns store: a new service answers within 1 s of apply; a deleted one stops', async (t) => {
  assert.equal(status(`fresh.${S}`), 'NXDOMAIN');
  await applyObject(
    store,
    service('my-namespace', 'fresh', { clusterIP: '10.96.0.77', ports: [] }),
  );
  const appeared = await until(() => short(`fresh.${S}`)[0] === '10.96.0.77', 1000);
  await deleteObject(store, 'Service', 'my-namespace', 'fresh');
  const gone = await until(() => status(`fresh.${S}`) === 'NXDOMAIN', 1000);
  t.diagnostic(`answered ${appeared} ms after apply, NXDOMAIN ${gone} ms after delete`);
});

/** What the endpoint-slice controller writes for the headless `db` after a pod change. */
async function reconcileDb(pods: Pod[]): Promise<void> {
  const db = fixtureObjects().find((o) => o.kind === 'Service' && o.metadata.name === 'db');
  const stored = (await listObjects(store, 'EndpointSlice', 'my-namespace')).items.filter(
    (s) => s.metadata.labels?.['kubernetes.io/service-name'] === 'db',
  );
  const plan = planEndpointSlices(db as Service, pods, stored);
  for (const slice of [...plan.create, ...plan.update]) await applyObject(store, slice);
  for (const slice of plan.delete) {
    await deleteObject(store, 'EndpointSlice', 'my-namespace', slice.metadata.name);
  }
}

test('dns store: a headless service follows its EndpointSlices', async () => {
  assert.deepEqual(short(`db.${S}`), ['10.244.1.10', '10.244.2.7']);
  const pods = fixtureObjects().filter((o): o is Pod => o.kind === 'Pod');
  const db1 = pod(
    'my-namespace',
    'db-1',
    '10.244.3.3',
    { app: 'db' },
    { hostname: 'db-1', subdomain: 'db' },
  );
  await reconcileDb([...pods, db1]);
  await until(() => short(`db-1.db.${S}`)[0] === '10.244.3.3', 1000);
  assert.deepEqual(short(`db.${S}`), ['10.244.1.10', '10.244.2.7', '10.244.3.3']);
  await reconcileDb(pods);
  await until(() => status(`db-1.db.${S}`) === 'NXDOMAIN', 1000);
});

test('dns store: metrics count queries by type and rcode', () => {
  // One worker per core, each with its own cache, the kernel choosing by flow: of three
  // queries, two reach the same worker, and the second of those is a cache hit.
  for (let i = 0; i < 3; i++) assert.equal(status(`nothing.${S}`), 'NXDOMAIN');
  const text = nodeIn(pair.clientNs, [
    '-e',
    `fetch('http://${SERVER_IP}:9153/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`,
  ]);
  assert.match(text, /podnet_dns_requests_total\{type="A",rcode="NOERROR",source="cluster"\} \d+/);
  assert.match(text, /podnet_dns_requests_total\{type="A",rcode="NXDOMAIN",source="cluster"\} \d+/);
  assert.match(text, /podnet_dns_cache_hits_total\{cache="cluster"\} \d+/);
  assert.match(text, /podnet_dns_request_duration_seconds_bucket\{le="0.001"\} \d+/);
});
