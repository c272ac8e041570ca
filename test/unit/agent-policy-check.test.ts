// The policy controller over a real store and a recording datapath: a change is synced trusting
// what was programmed, and the kernel is read once soon after, beside the syncs (a burst of
// changes shares one read); only a kernel that differs costs a sync that reads it and repairs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Namespace, Pod } from '../../src/api/types.js';
import { policyController } from '../../src/agent/policy.js';
import type { KernelCheck, PolicyApplyOutcome, PolicyDatapath } from '../../src/policy/datapath.js';
import { applyObject } from '../../src/store/objects.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import { withTempStore } from '../helpers/temp-store.js';
import { waitFor } from '../helpers/wait.js';
import { revisionOf, testAgentContext } from '../helpers/agent-context.js';

/** Records each apply (whether it trusted what was programmed) and each read of the kernel. */
class RecordingDatapath implements PolicyDatapath {
  readonly mode = 'nftables';
  readonly applies: { trusted: boolean }[] = [];
  checks = 0;
  /** What the kernel holds: a hand change makes it differ until an apply that reads it. */
  kernel: 'holds' | 'differs' = 'holds';

  async apply(_inputs: unknown, trustProgrammed = false): Promise<PolicyApplyOutcome> {
    this.applies.push({ trusted: trustProgrammed });
    if (!trustProgrammed) this.kernel = 'holds';
    return { change: 'none', sent: 0 };
  }
  async check(): Promise<KernelCheck> {
    this.checks++;
    return this.kernel;
  }
  async drops() {
    return [];
  }
  isolationOf() {
    return undefined;
  }
  async remove() {}
}

/** The controller's bound on how long after a change the kernel is read. */
const CHECK_WITHIN_MS = 1000;

const pod = (name: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels: { app: 'web' } },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'i' }] },
  status: { podIP: `10.244.1.${name.length + 10}` },
});

test('policy controller: changes sync trusting, the kernel is read soon after, once per burst, and repaired when it differs', async () => {
  await withTempStore(async (store) => {
    const ns: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } };
    await applyObject(store, ns);
    const informers = new InformerCache(store);
    const ctx = testAgentContext(store, informers, { overrides: { proxy: 'nftables' } });
    const datapath = new RecordingDatapath();
    const controller = policyController({
      datapath: () => datapath,
      nflog: () => ({ stop: () => undefined }),
    });
    try {
      await controller.start(ctx);
      assert.deepEqual(datapath.applies, [{ trusted: false }], 'the start reads the kernel');

      // A burst of Pod changes: each is processed by a sync that trusts what was programmed,
      // and none reads the kernel before its change counts as processed.
      let last = 0;
      for (const name of ['a', 'bb', 'ccc'])
        last = revisionOf((await applyObject(store, pod(name))).object);
      await informers.informer('Pod').waitForRevision(last);
      assert.ok(datapath.applies.length > 1);
      assert.ok(
        datapath.applies.slice(1).every((a) => a.trusted),
        'a change trusts what was programmed',
      );
      assert.equal(datapath.checks, 0, 'the kernel is not read while the changes are processed');

      // Soon after, one read of the kernel for the whole burst; it holds, so no sync follows.
      const synced = datapath.applies.length;
      await waitFor('a read of the kernel', () => datapath.checks === 1, CHECK_WITHIN_MS * 3);
      await new Promise((r) => setTimeout(r, CHECK_WITHIN_MS * 1.2));
      assert.equal(datapath.checks, 1, 'one read for a burst');
      assert.equal(datapath.applies.length, synced, 'a kernel that holds costs no sync');

      // Changed behind the agent's back: the read after the next change finds it and a sync
      // that reads the kernel repairs it.
      datapath.kernel = 'differs';
      const moved = await applyObject(store, pod('dddd'));
      await informers.informer('Pod').waitForRevision(revisionOf(moved.object));
      await waitFor('the repair', () => datapath.kernel === 'holds', CHECK_WITHIN_MS * 3);
      assert.equal(datapath.checks, 2);
      assert.deepEqual(datapath.applies.at(-1), { trusted: false }, 'the repair reads the kernel');
      assert.match(
        await ctx.metrics.metrics(),
        /^podnet_policy_kernel_checks_total\{result="differs"\} 1$/m,
      );
    } finally {
      await informers.stop();
      await controller.stop();
    }
  });
});
