// The same API server over etcd (Debian's etcd-server on 127.0.0.1): kubectl writes and reads
// through it, podnet sees the objects, and a watch from a revision etcd has compacted gets
// 410 Expired so that the client re-lists.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { startApiServer, type RunningApiServer } from '../helpers/apiserver.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';

const DEMO = new URL('../../../examples/demo.yaml', import.meta.url).pathname;
let dir = '';
let etcd: EtcdCluster;
let api: RunningApiServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pnt-apiserver-etcd-'));
  etcd = await startEtcd(1);
  api = await startApiServer(dir, etcd.storeUrl);
});

after(async () => {
  await api?.stop();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function ok(r: { code: number | null; out: string; err: string }): string {
  assert.equal(r.code, 0, `exit ${r.code}\n${r.out}\n${r.err}`);
  return r.out;
}

test('over etcd: apply through kubectl, read back by kubectl and podnet, label and delete', () => {
  assert.match(ok(api.kubectl(['apply', '-f', DEMO])), /^pod\/echo-1 created$/m);
  assert.match(ok(api.kubectl(['apply', '-f', DEMO])), /^pod\/echo-1 unchanged$/m);
  const wide = ok(api.kubectl(['get', 'pods', '-n', 'my-namespace', '-o', 'wide']));
  assert.match(wide, /^echo-3\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+node-3\s/m);
  ok(api.kubectl(['label', 'svc', '-n', 'my-namespace', 'my-svc', 'team=net']));
  const svc = JSON.parse(
    ok(api.podnet(['get', 'svc', 'my-svc', '-n', 'my-namespace', '-o', 'json'])),
  ) as {
    metadata: { labels: Record<string, string> };
    spec: { clusterIP: string };
  };
  assert.equal(svc.metadata.labels.team, 'net');
  assert.match(svc.spec.clusterIP, /^10\.96\./);
  assert.match(
    ok(api.kubectl(['delete', 'pod', '-n', 'my-namespace', 'client'])),
    /pod "client" deleted/,
  );
});

test('over etcd: a watch from a compacted revision gets 410 Expired, a fresh list watches on', async () => {
  const store = await openStore(etcd.storeUrl);
  try {
    const { revision } = await store.list('/');
    await store.compact(revision);
  } finally {
    await store.close();
  }
  const old = await api.fetch('/api/v1/pods?watch=1&resourceVersion=2', { timeoutMs: 5000 });
  const first = JSON.parse(old.body.trim().split('\n')[0]!) as {
    type: string;
    object: { code: number };
  };
  assert.equal(first.type, 'ERROR');
  assert.equal(first.object.code, 410);
  const list = JSON.parse((await api.fetch('/api/v1/pods')).body) as {
    metadata: { resourceVersion: string };
  };
  const watching = api.fetch(
    `/api/v1/pods?watch=1&resourceVersion=${list.metadata.resourceVersion}&timeoutSeconds=2`,
    { timeoutMs: 8000 },
  );
  await new Promise((r) => setTimeout(r, 300));
  ok(api.kubectl(['label', 'pod', '-n', 'my-namespace', 'echo-1', 'seen=yes']));
  const events = (await watching).body
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; object: { metadata: { name: string } } });
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.object.metadata.name}`),
    ['MODIFIED echo-1'],
  );
});
