// The policy controller names the pods of a denied connection from the agent's own pod cache,
// as the agent keeps it: a single-stack pod's podIPs, which only repeats podIP, is not kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cachedObjectTransforms } from '../../src/agent/cached-objects.js';
import { policyController } from '../../src/agent/policy.js';
import type { Namespace, Node, Pod } from '../../src/api/types.js';
import type { LoggedPacket } from '../../src/kernel/nflog.js';
import type { DeniedConnection } from '../../src/policy/denied-log.js';
import type { PolicyDatapath } from '../../src/policy/datapath.js';
import { applyObject } from '../../src/store/objects.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import { testAgentContext } from '../helpers/agent-context.js';
import { withTempStore } from '../helpers/temp-store.js';

const ns: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } };
const node: Node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} };
const pod: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'shop' },
  spec: { nodeName: 'node-1', containers: [{ name: 'app' }] },
  status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }] },
};

/** A datapath that programs nothing and says every logged packet was refused by `shop/deny`. */
const refusing = (mode: PolicyDatapath['mode']): PolicyDatapath => ({
  mode,
  apply: async () => ({ change: 'none', sent: 0 }),
  check: async () => 'holds',
  drops: async () => [],
  isolationOf: () => ({ direction: 'Ingress', policies: ['shop/deny'] }),
  remove: async () => undefined,
});

test('policy controller: a denied connection names a single-stack pod by its podIP', async () => {
  await withTempStore(async (store) => {
    await applyObject(store, ns);
    await applyObject(store, node);
    await applyObject(store, pod);
    const informers: InformerCache = new InformerCache(store, {
      transforms: cachedObjectTransforms(() => informers.informer('Pod').cache),
    });
    let deliver: ((packet: LoggedPacket) => void) | undefined;
    const denied: DeniedConnection[] = [];
    const controller = policyController({
      datapath: refusing,
      nflog: (_group, onPacket) => {
        deliver = onPacket;
        return { stop: () => undefined };
      },
      onDenied: (c) => denied.push(c),
    });
    try {
      await controller.start(testAgentContext(store, informers));
      assert.equal(informers.informer('Pod').cache.get('shop/web')?.status?.podIPs, undefined);
      deliver!({
        prefix: 'podnet-np',
        protocol: 6,
        source: '10.244.2.9',
        sourcePort: 40000,
        destination: '10.244.1.5',
        destinationPort: 8080,
      });
      assert.equal(denied.length, 1);
      assert.equal(denied[0]!.destination.pod, 'shop/web');
      assert.equal(denied[0]!.source.pod, undefined);
    } finally {
      await informers.stop();
      await controller.stop();
    }
  });
});
