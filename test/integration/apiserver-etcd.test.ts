// The same API server over etcd (Debian's etcd-server on 127.0.0.1): kubectl writes and reads
// through it, podnet sees the objects, and a watch from a revision etcd has compacted gets
// 410 Expired so that the client re-lists.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkRelistAfterCompaction,
  ok,
  startTempApiServer,
  type TempApiServer,
} from '../helpers/apiserver.js';
import { DEMO_MANIFEST } from '../helpers/lab.js';
import { startEtcd, type EtcdCluster } from '../helpers/etcd.js';

let etcd: EtcdCluster;
let api: TempApiServer;

before(async () => {
  etcd = await startEtcd(1);
  api = await startTempApiServer('pnt-apiserver-etcd-', { storeUrl: etcd.storeUrl });
});

after(async () => {
  await api?.close();
  await etcd?.stop();
});

test('over etcd: apply through kubectl, read back by kubectl and podnet, label and delete', () => {
  assert.match(ok(api.kubectl(['apply', '-f', DEMO_MANIFEST])), /^pod\/echo-1 created$/m);
  assert.match(ok(api.kubectl(['apply', '-f', DEMO_MANIFEST])), /^pod\/echo-1 unchanged$/m);
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
  await checkRelistAfterCompaction(api, '/api/v1/pods', '2', 'echo-1');
});
