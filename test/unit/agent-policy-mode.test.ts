// The policy controller following the node's proxy mode live, over a real store and recording
// datapaths: the new mode's datapath enforces the policies before the old mode's rules are
// taken out (never a moment with neither), a failed move keeps the old datapath enforcing, and
// a start takes out what the other mode may have left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_NETWORK_SETTINGS } from '../../src/api/node-settings.js';
import type { Namespace, Node, ProxyMode } from '../../src/api/types.js';
import { policyController } from '../../src/agent/policy.js';
import type { KernelCheck, PolicyApplyOutcome, PolicyDatapath } from '../../src/policy/datapath.js';
import { applyObject } from '../../src/store/objects.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import { withTempStore } from '../helpers/temp-store.js';
import { waitFor } from '../helpers/wait.js';
import { revisionOf, testAgentContext } from '../helpers/agent-context.js';

/** Every datapath call of either mode, in order: `nftables apply`, `iptables remove`. */
class Journal {
  readonly calls: string[] = [];
  /** Modes whose apply fails (a kernel that refuses). */
  readonly failing = new Set<ProxyMode>();

  datapath(mode: ProxyMode): PolicyDatapath {
    const calls = this.calls;
    const failing = this.failing;
    return {
      mode,
      async apply(): Promise<PolicyApplyOutcome> {
        calls.push(`${mode} apply`);
        if (failing.has(mode)) throw new Error(`${mode} refused`);
        return { change: 'table', sent: 1 };
      },
      async check(): Promise<KernelCheck> {
        return 'holds';
      },
      async drops() {
        return [];
      },
      isolationOf: () => undefined,
      async remove() {
        calls.push(`${mode} remove`);
      },
    };
  }

  /** The calls since `from`, with repeated applies of one mode counted once. */
  since(from: number): string[] {
    return this.calls.slice(from).filter((c, i, all) => c !== all[i - 1]);
  }
}

const node = (proxyMode: ProxyMode | undefined): Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: 'node-1',
    annotations: proxyMode
      ? { [ANNOTATION_NETWORK_SETTINGS]: JSON.stringify({ generation: proxyMode, proxyMode }) }
      : {},
  },
  spec: {},
});

test("policy controller: the datapath follows the node's proxy mode live, make before break", async () => {
  await withTempStore(async (store) => {
    const ns: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } };
    await applyObject(store, ns);
    await applyObject(store, node(undefined));
    const informers = new InformerCache(store);
    const ctx = testAgentContext(store, informers);
    const journal = new Journal();
    const controller = policyController({
      datapath: (mode) => journal.datapath(mode),
      nflog: () => ({ stop: () => undefined }),
    });
    const moveTo = async (mode: ProxyMode): Promise<void> => {
      const written = await applyObject(store, node(mode));
      // The Node's handlers are done (what a rollout's acknowledgement waits for).
      await informers.informer('Node').waitForRevision(revisionOf(written.object));
    };
    try {
      await controller.start(ctx);
      assert.deepEqual(
        journal.since(0),
        ['iptables apply', 'nftables remove'],
        "the cluster's mode enforces, then what the other mode may have left goes",
      );

      let from = journal.calls.length;
      await moveTo('nftables');
      assert.deepEqual(
        journal.since(from),
        ['nftables apply', 'iptables remove'],
        'the new mode enforces before the old one is taken out',
      );

      // A move the kernel refuses: the old datapath stays and keeps enforcing.
      journal.failing.add('iptables');
      from = journal.calls.length;
      await moveTo('iptables');
      assert.deepEqual(journal.since(from), ['iptables apply']);
      assert.match(ctx.health.report().errors.policy ?? '', /iptables refused/);
      // Once the kernel takes it, the retry completes the move.
      journal.failing.clear();
      await waitFor(
        'the retried move',
        () => (journal.calls.at(-1) === 'nftables remove' ? true : undefined),
        5000,
      );
      assert.deepEqual(journal.since(from), ['iptables apply', 'nftables remove']);
    } finally {
      await informers.stop();
      await controller.stop();
    }
  });
});
