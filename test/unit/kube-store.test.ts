// The Kubernetes source against podnet's API server (a process on loopback, no root): the
// store's contract through the API — objects, status through its subresource, plain keys and
// store leases as Leases, informers that re-list after 410 Gone or a silent watch — and
// refusals that say what was refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { parse } from 'yaml';
import { ok, startTempApiServer, type TempApiServer } from '../helpers/apiserver.js';
import { kubernetesUrl } from '../../src/kube/open.js';
import { openKubeStore } from '../../src/kube/connect.js';
import { KubeStore } from '../../src/kube/store.js';
import { KubeClient, verbAndResource } from '../../src/kube/client.js';
import { KubeConfig } from '@kubernetes/client-node';
import { openStore } from '../../src/store/open.js';
import { startInformer } from '../../src/store/informer.js';
import { createObject, getObject, listObjects, updateObject } from '../../src/store/objects.js';
import type { Node, Pod } from '../../src/api/types.js';
import { locate, resourcePath } from '../../src/kube/keys.js';

const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;

let api: TempApiServer;
before(async () => {
  api = await startTempApiServer('pnt-kube-store-');
});
after(async () => {
  await api?.close();
});

function pod(name: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web' } },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  } as Pod;
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function metric(registry: Registry, reason: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'podnet_kube_relists_total');
  return Number(m?.values.find((v) => v.labels.reason === reason)?.value ?? 0);
}

test('store keys map to resources, and plain keys to Leases', () => {
  const loc = locate('/podnet/endpointslices/default/web-abc');
  assert.equal(loc.type, 'object');
  if (loc.type !== 'object') return;
  assert.equal(
    resourcePath(loc.kind, loc.namespace, loc.name),
    '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/web-abc',
  );
  const lease = locate('/podnet/coordination.k8s.io/leases/kube-node-lease/n1');
  assert.equal(lease.type === 'object' && lease.kind.kind, 'Lease');
  assert.equal(locate('/podnet/leases/subnets/10-244-1-0-24').type, 'raw');
  assert.equal(locate('/podnet/elections/slices').type, 'raw');
});

test('a refusal names the verb and the resource', () => {
  assert.equal(verbAndResource('GET', '/api/v1/nodes'), 'list nodes');
  assert.equal(
    verbAndResource('GET', '/apis/discovery.k8s.io/v1/endpointslices?watch=1&x=y'),
    'watch endpointslices.discovery.k8s.io',
  );
  assert.equal(verbAndResource('PUT', '/api/v1/nodes/n1/status'), 'update nodes/status');
  assert.equal(
    verbAndResource('POST', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases'),
    'create leases.coordination.k8s.io',
  );
});

test('objects are created, read, listed and updated through the API, status included', async () => {
  const store = openKubeStore(kubernetesUrl(api.kubeconfig));
  try {
    const created = await createObject(store, pod('kube-a'));
    assert.ok(created);
    assert.equal(await createObject(store, pod('kube-a')), undefined, 'second create conflicts');
    const read = await getObject(store, 'Pod', 'default', 'kube-a');
    assert.equal(read?.metadata.resourceVersion, created.metadata.resourceVersion);
    const { items, revision } = await listObjects(store, 'Pod', 'default');
    assert.ok(items.some((p) => p.metadata.name === 'kube-a' && p.kind === 'Pod'));
    assert.ok(revision >= Number(created.metadata.resourceVersion));

    const node: Node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'kube-n1' },
      spec: { podCIDR: '10.244.7.0/24', podCIDRs: ['10.244.7.0/24'] },
      status: { conditions: [{ type: 'Ready', status: 'False' }] },
    } as Node;
    assert.ok(await createObject(store, node));
    await updateObject(store, 'Node', undefined, 'kube-n1', (n) => {
      n.metadata.annotations = { 'podnet.io/vtep-mac': '02:00:00:00:00:01' };
      n.status = { ...n.status, conditions: [{ type: 'Ready', status: 'True' }] };
      return n;
    });
    // Read back with the admin's own client, not through the source.
    const raw = JSON.parse((await api.fetch('/api/v1/nodes/kube-n1')).body) as Node;
    assert.equal(raw.metadata.annotations?.['podnet.io/vtep-mac'], '02:00:00:00:00:01');
    assert.equal(raw.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
  } finally {
    await store.close();
  }
});

test('plain keys bound to a store lease live while it is kept alive, and go with it', async () => {
  const store = openKubeStore(kubernetesUrl(api.kubeconfig));
  try {
    const key = '/podnet/elections/kube-test';
    const lease = await store.grantLease(60);
    assert.ok(await store.create(key, 'node-a', { lease }));
    assert.equal(await store.create(key, 'node-b'), undefined, 'held key cannot be taken');
    assert.equal((await store.get(key))?.value, 'node-a');
    assert.equal((await store.get(key))?.lease, lease);
    await store.keepAlive(lease);
    assert.deepEqual(
      (await store.list('/podnet/elections/')).items.map((kv) => kv.key),
      [key],
    );
    await store.revokeLease(lease);
    assert.equal(await store.get(key), undefined);
    await assert.rejects(store.keepAlive(lease), /expired/);

    // A lease that is not renewed runs out, and its keys count as gone: another can take them.
    const short = await store.grantLease(1);
    assert.ok(await store.create(key, 'node-a', { lease: short }));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await store.get(key), undefined);
    assert.ok(await store.create(key, 'node-b'), 'an expired holder gives the key up');
    assert.equal((await store.get(key))?.value, 'node-b');
    assert.ok(await store.delete(key));
  } finally {
    await store.close();
  }
});

test('an informer through the API re-lists after 410 Gone and counts it', async () => {
  const metrics = new Registry();
  const store = openKubeStore(kubernetesUrl(api.kubeconfig), { metrics, watchSeconds: 2 });
  const seen = new Set<string>();
  const informer = startInformer(store, 'Pod', {
    namespace: 'default',
    retryMs: 100,
    onChange: (c) => seen.add(c.object.metadata.name),
  });
  try {
    await informer.synced;
    assert.ok(await createObject(store, pod('kube-b')));
    await until('watch sees kube-b', () => seen.has('kube-b'));
    // Compact the history behind the server, then make the next watch start from before it.
    const behind = await openStore(api.storeUrl);
    try {
      const { revision } = await behind.list('/');
      await createObject(behind, pod('kube-c'));
      await behind.compact(revision + 1);
    } finally {
      await behind.close();
    }
    // The running watch may still deliver kube-c; a fresh one from an old revision gets 410.
    const events: string[] = [];
    const errors: string[] = [];
    const w = store.watch('/podnet/pods/default/', 2, {
      onEvents: (evs) => events.push(...evs.map((e) => e.type)),
      onError: (err) => errors.push(err.reason),
    });
    await until('410 reported as compacted', () => errors.length > 0);
    await w.cancel();
    assert.deepEqual(errors, ['compacted']);
    assert.equal(await metric(metrics, 'expired'), 1);
    await until('informer still current', () => seen.has('kube-c'));
    assert.ok(await createObject(store, pod('kube-d')));
    await until('informer carries on', () => seen.has('kube-d'));
  } finally {
    await informer.stop();
    await store.close();
  }
});

test('a watch that goes silent is given up and re-listed', async () => {
  // A server that answers lists but whose watches never send a byte: a hung connection.
  let lists = 0;
  const server = createServer((req, res) => {
    if (req.url?.includes('watch=1')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      return;
    }
    lists++;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ metadata: { resourceVersion: '5' }, items: [] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    { name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true },
    { name: 'u' },
  );
  const metrics = new Registry();
  const store = new KubeStore(new KubeClient(kc), { metrics, watchSeconds: 1 });
  const informer = startInformer(store, 'Service', { retryMs: 50 });
  try {
    await informer.synced;
    await until('stalled watch re-listed', () => lists >= 2, 15_000);
    assert.ok((await metric(metrics, 'stalled')) >= 1);
  } finally {
    await informer.stop();
    await store.close();
    server.closeAllConnections();
    server.close();
  }
});

test('refused credentials and permissions say so in one line', async () => {
  ok(api.kubectl(['create', 'serviceaccount', 'kube-reader']));
  const token = ok(api.kubectl(['create', 'token', 'kube-reader'])).trim();
  const admin = parse((await import('node:fs')).readFileSync(api.kubeconfig, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
  };
  const write = (file: string, userToken: string): string => {
    const path = join(api.dir, file);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: admin.clusters[0]!.cluster }],
        users: [{ name: 'u', user: { token: userToken } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    return path;
  };
  write('bad.kubeconfig', 'not-a-token');
  const refused: string[] = [];
  const limited = openKubeStore(kubernetesUrl(write('reader.kubeconfig', token)), {
    onRefused: (err) => refused.push(err.message),
  });
  await assert.rejects(
    listObjects(limited, 'EndpointSlice'),
    /refused to list endpointslices\.discovery\.k8s\.io \(403 Forbidden\)/,
  );
  assert.equal(refused.length, 1);
  // A daemon given such a credential says so in one line and exits 1, instead of retrying.
  const port = String(20000 + Math.floor(Math.random() * 20000));
  for (const [file, expected] of [
    ['reader.kubeconfig', /refused to list (namespaces|services|endpointslices|clusternetworks)/],
    ['bad.kubeconfig', /401 Unauthorized/],
  ] as const) {
    const r = spawnSync(
      podnet,
      [
        '--kubeconfig',
        join(api.dir, file),
        'dns',
        '--listen',
        '127.0.0.1',
        '--port',
        port,
        '--metrics',
        '',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, expected);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => /refused/.test(l)).length,
      1,
    );
  }
  const stranger = openKubeStore(kubernetesUrl(write('bad.kubeconfig', 'not-a-token')));
  await assert.rejects(listObjects(stranger, 'Node'), (err: Error) => {
    assert.match(err.message, /refused this client's credentials \(401 Unauthorized\)/);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
});

test('--api-server needs --kubeconfig or --in-cluster, and one cluster at a time', () => {
  const alone = spawnSync(podnet, ['--api-server', 'https://10.0.0.1:6443', 'get', 'nodes'], {
    encoding: 'utf8',
  });
  assert.equal(alone.status, 2);
  assert.match(alone.stderr, /--api-server: give it with --kubeconfig or --in-cluster/);
  const both = spawnSync(
    podnet,
    ['--kubeconfig', api.kubeconfig, '--store', 'sqlite::memory:', 'get', 'nodes'],
    {
      encoding: 'utf8',
    },
  );
  assert.equal(both.status, 2);
  assert.match(both.stderr, /give one of them/);
});
