// The staged rollout's plan and walk, without a store or kernel: the canary first, then batches,
// the cluster-wide write last; the first failed check stops it and moves back exactly the hosts
// already moved, while the others are never touched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CLUSTER_NETWORK } from '../../src/api/types.js';
import { effectiveNetwork, ANNOTATION_NETWORK_SETTINGS } from '../../src/api/node-settings.js';
import type { NodeSettings } from '../../src/api/node-settings.js';
import { perHostChange, planRollout } from '../../src/rollout/plan.js';
import { runRollout, type RolloutEffects } from '../../src/rollout/run.js';

const HOSTS = ['node-3', 'node-1', 'node-5', 'node-2', 'node-4'];
const SETTINGS: NodeSettings = { generation: 'g1', backend: 'host-gw' };

test('rollout plan: the first host by name is the canary, the rest go in batches, finish last', () => {
  const plan = planRollout(HOSTS, SETTINGS, { batchSize: 2 });
  assert.equal(plan.canary, 'node-1');
  assert.deepEqual(plan.batches, [
    ['node-2', 'node-3'],
    ['node-4', 'node-5'],
  ]);
  assert.deepEqual(
    plan.steps.map((s) => (s.kind === 'finish' ? 'finish' : `${s.kind} ${s.hosts.join(',')}`)),
    [
      'move node-1',
      'check node-1',
      'move node-2,node-3',
      'check node-2,node-3',
      'move node-4,node-5',
      'check node-4,node-5',
      'finish',
    ],
  );
});

test('rollout plan: a named canary, a batch larger than what is left, bad input refused', () => {
  const plan = planRollout(HOSTS, SETTINGS, { batchSize: 10, canary: 'node-4' });
  assert.equal(plan.canary, 'node-4');
  assert.deepEqual(plan.batches, [['node-1', 'node-2', 'node-3', 'node-5']]);
  assert.throws(
    () => planRollout(HOSTS, SETTINGS, { batchSize: 1, canary: 'node-9' }),
    /--canary node-9: no such Node/,
  );
  assert.throws(() => planRollout(HOSTS, SETTINGS, { batchSize: 0 }), /--batch 0/);
  assert.throws(() => planRollout([], SETTINGS, { batchSize: 1 }), /no hosts/);
  assert.deepEqual(planRollout(['only'], SETTINGS, { batchSize: 1 }).batches, []);
});

test('rollout plan: only the per-host settings that change are carried; a node runs them on top', () => {
  const current = { ...DEFAULT_CLUSTER_NETWORK, backend: 'vxlan' as const, mtu: 1500 };
  const proposed = {
    ...current,
    backend: 'host-gw' as const,
    routing: 'bgp' as const,
    proxyMode: 'nftables' as const,
    clusterCIDRs: ['10.244.0.0/16', '10.245.0.0/16'],
  };
  const settings = perHostChange(current, proposed, 'g7');
  assert.deepEqual(settings, {
    generation: 'g7',
    backend: 'host-gw',
    routing: 'bgp',
    proxyMode: 'nftables',
  });
  const node = {
    apiVersion: 'v1' as const,
    kind: 'Node' as const,
    metadata: {
      name: 'node-1',
      annotations: { [ANNOTATION_NETWORK_SETTINGS]: JSON.stringify(settings) },
    },
    spec: {},
  };
  const effective = effectiveNetwork(current, node);
  assert.equal(effective.backend, 'host-gw');
  assert.equal(effective.routing, 'bgp');
  assert.equal(effective.proxyMode, 'nftables', 'the proxy mode moves host by host too');
  assert.equal(effective.mtu, 1500);
  assert.equal(
    effective.clusterCIDRs,
    undefined,
    'a CIDR addition waits for the cluster-wide write',
  );
  assert.equal(
    effectiveNetwork(current, {
      ...node,
      metadata: { name: 'x', annotations: { [ANNOTATION_NETWORK_SETTINGS]: '{bad' } },
    }).backend,
    'vxlan',
  );
});

/** Effects that record every call; `failing` names checks that fail and their reason. */
function recorder(failing: Record<string, string> = {}, moveFails?: string) {
  const calls: string[] = [];
  const effects: RolloutEffects = {
    async move(hosts, settings) {
      calls.push(`${settings ? 'move' : 'back'} ${hosts.join(',')}`);
      if (moveFails && hosts.includes(moveFails) && settings) {
        throw new Error(`${moveFails}: its agent did not apply generation g1 within 30 s`);
      }
    },
    async check(host) {
      calls.push(`check ${host}`);
      return failing[host] ? [failing[host]!] : [];
    },
    async finish() {
      calls.push('finish');
    },
    progress() {},
  };
  return { calls, effects };
}

test('rollout run: every step in order when every check passes', async () => {
  const { calls, effects } = recorder();
  const outcome = await runRollout(planRollout(HOSTS, SETTINGS, { batchSize: 2 }), effects);
  assert.deepEqual(outcome, { ok: true, reasons: [], rolledBack: [], stranded: [] });
  assert.deepEqual(calls, [
    'move node-1',
    'check node-1',
    'move node-2,node-3',
    'check node-2',
    'check node-3',
    'move node-4,node-5',
    'check node-4',
    'check node-5',
    'finish',
  ]);
});

test('rollout run: a failed canary check stops it, moves the canary back, touches no other host', async () => {
  const { calls, effects } = recorder({ 'node-1': 'DF probe of 1450 bytes to node-2 failed' });
  const outcome = await runRollout(planRollout(HOSTS, SETTINGS, { batchSize: 2 }), effects);
  assert.equal(outcome.ok, false);
  assert.deepEqual(outcome.reasons, ['node-1: DF probe of 1450 bytes to node-2 failed']);
  assert.deepEqual(outcome.rolledBack, ['node-1']);
  assert.deepEqual(calls, ['move node-1', 'check node-1', 'back node-1']);
});

test('rollout run: a failed batch moves back the canary and every batch host moved so far', async () => {
  const { calls, effects } = recorder({ 'node-3': 'doctor: routes missing' });
  const outcome = await runRollout(planRollout(HOSTS, SETTINGS, { batchSize: 2 }), effects);
  assert.equal(outcome.ok, false);
  assert.deepEqual(outcome.rolledBack, ['node-1', 'node-2', 'node-3']);
  assert.equal(calls.at(-1), 'back node-1,node-2,node-3');
  assert.ok(!calls.includes('finish'), 'the cluster-wide object is never written');
  assert.ok(!calls.some((c) => c.includes('node-4')), 'hosts not reached are not touched');
});

test('rollout run: an agent that never applies its settings stops it like a failed check', async () => {
  const { calls, effects } = recorder({}, 'node-2');
  const outcome = await runRollout(planRollout(HOSTS, SETTINGS, { batchSize: 2 }), effects);
  assert.match(outcome.reasons[0]!, /node-2: its agent did not apply/);
  assert.deepEqual(calls, [
    'move node-1',
    'check node-1',
    'move node-2,node-3',
    'back node-1,node-2,node-3',
  ]);
});

test('rollout run: a rollback that fails names the hosts left on the new settings', async () => {
  const { effects } = recorder({ 'node-1': 'unreachable' });
  effects.move = async (_hosts, settings) => {
    if (!settings) throw new Error('store unavailable');
  };
  const outcome = await runRollout(planRollout(HOSTS, SETTINGS, { batchSize: 2 }), effects);
  assert.deepEqual(outcome.stranded, ['node-1']);
  assert.match(outcome.reasons.at(-1)!, /rollback: store unavailable/);
});
