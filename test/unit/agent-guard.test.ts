// The guard controller over a real store and the fake nft: the table follows the Nodes, the BGP
// peers and the ClusterNetwork as they change, the CNI server's hook brings a new pod's element in before it
// returns, and the kernel's counters show as podnet_guard_drops_total.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import type { BGPPeer, ClusterNetwork, Node } from '../../src/api/types.js';
import { HealthState, type AgentContext } from '../../src/agent/controller.js';
import { HttpRoutes } from '../../src/agent/http.js';
import { guardController, type GuardSource } from '../../src/agent/guard.js';
import type { WiredPod } from '../../src/policy/guard.js';
import { applyObject } from '../../src/store/objects.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import { FakeGuardKernel } from '../helpers/fake-guard.js';
import { withTempStore } from '../helpers/temp-store.js';

const node = (name: string, ip: string): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: {},
  status: { addresses: [{ type: 'InternalIP', address: ip }] },
});

const network = (allowPorts: number[]): ClusterNetwork => ({
  apiVersion: 'podnet.io/v1',
  kind: 'ClusterNetwork',
  metadata: { name: 'default' },
  spec: { hostProtection: { allowPorts } } as ClusterNetwork['spec'],
});

const revisionOf = (o: { metadata: { resourceVersion?: string } }): number =>
  Number(o.metadata.resourceVersion);

test('guard controller: Nodes, the ClusterNetwork and CNI calls keep the table; drops are metrics', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, node('node-1', '172.31.1.1'));
    const informers = new InformerCache(store);
    const metrics = new Registry();
    const ctx: AgentContext = {
      options: {
        nodeName: 'node-1',
        storeUrl: 'etcd:172.31.1.254:2379',
        stateDir: '/nonexistent',
        socketPath: '/nonexistent',
        metricsAddress: '127.0.0.1:9101',
        overrides: {},
        controlPlane: ['172.31.1.253'],
      },
      store,
      informers,
      log: pino({ level: 'silent' }),
      metrics,
      health: new HealthState(),
      http: new HttpRoutes(),
    };
    const pods: WiredPod[] = [];
    const source: GuardSource = { wiredPods: () => pods, guardSync: undefined };
    const kernel = new FakeGuardKernel();
    const controller = guardController(source, kernel);
    try {
      await controller.start(ctx);
      assert.deepEqual(await kernel.listSet('node-addresses-v4'), [
        '172.31.1.1',
        '172.31.1.253',
        '172.31.1.254',
      ]);

      const added = await applyObject(store, node('node-2', '172.31.2.1'));
      await informers.informer('Node').waitForRevision(revisionOf(added.object));
      assert.ok((await kernel.listSet('node-addresses-v4'))!.includes('172.31.2.1'));

      const opened = await applyObject(store, network([6443]));
      await informers.informer('ClusterNetwork').waitForRevision(revisionOf(opened.object));
      assert.ok(!(await kernel.listSet('protected-ports'))!.includes('6 . 6443'));

      const router = await applyObject(store, {
        apiVersion: 'podnet.io/v1',
        kind: 'BGPPeer',
        metadata: { name: 'tor-1' },
        spec: { peerIP: '172.31.1.250', asNumber: 64600 },
      } as BGPPeer);
      await informers.informer('BGPPeer').waitForRevision(revisionOf(router.object));
      assert.ok((await kernel.listSet('node-addresses-v4'))!.includes('172.31.1.250'));

      pods.push({ hostVeth: 'pn0123456789a', ip: '10.244.1.5' });
      await source.guardSync!();
      assert.deepEqual(await kernel.listSet('pod-sources-v4'), ['"pn0123456789a" . 10.244.1.5']);

      kernel.packets.set('spoofed', 7);
      assert.match(await metrics.metrics(), /^podnet_guard_drops_total\{reason="spoofed"\} 7$/m);
      assert.match(await metrics.metrics(), /^podnet_guard_drops_total\{reason="host-port"\} 0$/m);
    } finally {
      await informers.stop();
      await controller.stop();
    }
  });
});
