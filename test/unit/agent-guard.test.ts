// The guard controller over a real store and the fake nft: the table follows the Nodes, the BGP
// peers and the ClusterNetwork as they change, the CNI server's hook brings a new pod's element in before it
// returns, and the kernel's counters show as podnet_guard_drops_total. The periodic check reads
// the kernel beside the passes: an ADD waits for none of its listings, a whole table costs no
// write, and a table changed by hand is repaired.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { BGPPeer, ClusterNetwork, Node, Pod } from '../../src/api/types.js';
import { guardController, type GuardSource } from '../../src/agent/guard.js';
import { GUARD_TABLE, type WiredPod } from '../../src/policy/guard.js';
import { applyObject } from '../../src/store/objects.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import { FakeGuardKernel } from '../helpers/fake-guard.js';
import { withTempStore } from '../helpers/temp-store.js';
import { waitFor } from '../helpers/wait.js';
import { revisionOf, testAgentContext } from '../helpers/agent-context.js';

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

/** The fake guard kernel whose listings wait, while `held`, until released. */
class HeldReads extends FakeGuardKernel {
  held = false;
  reads = 0;
  private waiting: (() => void)[] = [];
  release(): void {
    this.held = false;
    for (const go of this.waiting.splice(0)) go();
  }
  private async gate(): Promise<void> {
    this.reads++;
    if (this.held) await new Promise<void>((go) => this.waiting.push(go));
  }
  override async list(): ReturnType<FakeGuardKernel['list']> {
    await this.gate();
    return super.list();
  }
}

/** The pods let out, read without a listing (which a held kernel would make wait). */
const sourcesIn = (kernel: FakeGuardKernel): number | undefined =>
  kernel.nft.tables.get(GUARD_TABLE)?.sets.get('pod-sources-v4')?.elements.size;

test('guard controller: Nodes, the ClusterNetwork and CNI calls keep the table; drops are metrics', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, node('node-1', '172.31.1.1'));
    const informers = new InformerCache(store);
    const metrics = new Registry();
    const ctx = testAgentContext(
      store,
      informers,
      { storeUrl: 'etcd:172.31.1.254:2379', controlPlane: ['172.31.1.253'] },
      metrics,
    );
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

test("guard controller: another node's pods cause no pass; this node's do", async () => {
  await withTempStore(async (store) => {
    await applyObject(store, node('node-1', '172.31.1.1'));
    const informers = new InformerCache(store);
    const ctx = testAgentContext(store, informers);
    let passes = 0;
    const source: GuardSource = {
      wiredPods: () => {
        passes++;
        return [];
      },
      guardSync: undefined,
    };
    const controller = guardController(source, new FakeGuardKernel());
    const pod = (name: string, nodeName: string): Pod => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default' },
      spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }] },
    });
    try {
      await controller.start(ctx);
      const before = passes;
      for (let i = 0; i < 5; i++) {
        const elsewhere = await applyObject(store, pod(`far-${i}`, 'node-2'));
        await informers.informer('Pod').waitForRevision(revisionOf(elsewhere.object));
      }
      assert.equal(passes, before, 'pods of node-2 made node-1 pass');
      const here = await applyObject(store, pod('near', 'node-1'));
      await informers.informer('Pod').waitForRevision(revisionOf(here.object));
      assert.ok(passes > before, 'a pod of node-1 made no pass');
    } finally {
      await informers.stop();
      await controller.stop();
    }
  });
});

test('guard controller: the periodic check reads beside the passes and repairs a hand change', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, node('node-1', '172.31.1.1'));
    const informers = new InformerCache(store);
    const pods: WiredPod[] = [{ hostVeth: 'pn0123456789a', ip: '10.244.1.5' }];
    const source: GuardSource = { wiredPods: () => pods, guardSync: undefined };
    const kernel = new HeldReads();
    const resyncMs = 50;
    const controller = guardController(source, kernel, resyncMs);
    try {
      await controller.start(testAgentContext(store, informers));
      const written = kernel.transactions.length;

      // A check is under way and its listings wait: a new pod's pass does not wait for them.
      kernel.held = true;
      kernel.reads = 0;
      await waitFor('a check to read the kernel', () => kernel.reads > 0, 5_000);
      pods.push({ hostVeth: 'pn0123456789b', ip: '10.244.1.6' });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((r) => (timer = setTimeout(() => r('late'), 2_000)));
      const passed = await Promise.race([source.guardSync!().then(() => 'done'), late]);
      clearTimeout(timer);
      assert.equal(passed, 'done', 'the pass waited for the check');
      assert.ok(kernel.held, 'the pass ended while the check still read');
      assert.equal(sourcesIn(kernel), 2, 'the new pod is let out');
      kernel.release();

      // Checks that find the table whole write nothing.
      const afterPod = kernel.transactions.length;
      assert.equal(afterPod, written + 1);
      kernel.reads = 0;
      await waitFor('two more checks', () => kernel.reads >= 2, 5_000);
      assert.equal(kernel.transactions.length, afterPod, 'a whole table costs no write');

      // By hand: a pod's element is deleted; the next check puts it back.
      await kernel.nft.run(
        `delete element ${GUARD_TABLE} pod-sources-v4 { "pn0123456789a" . 10.244.1.5 }`,
      );
      await waitFor('the element to be put back', () => sourcesIn(kernel) === 2, 5_000);
    } finally {
      await informers.stop();
      await controller.stop();
    }
  });
});
