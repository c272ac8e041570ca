// The scale harness at a small size (bench/scale.ts runs it at Kubernetes' published limits):
// 200 nodes, 5,000 pods and 500 services against three real agents and the real cluster DNS,
// measured at 10 % and at 100 %. A cost that grows faster than the cluster (a pass over every
// service per node join, a kernel read per Node event) fails here, and so does one that breaks
// the SLOs outright. The bounds are loose for a shared 2-core CI machine; growth is the check.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { growth, runScale, stepTable, type ScaleStep } from '../../bench/lib/scale-run.js';

/** Growth from 10 % to 100 % of the cluster: linear is 10x. */
const MAX_GROWTH = 12;
/** Figures whose value is a cost (the others, rates, may only fall). */
const COSTS = [
  'agents_catch_up_s',
  'agent_rss_mb',
  'agent_heap_mb',
  'agent_live_mb',
  'dns_rss_mb',
  'list_pods_ms',
  'node_join_ms',
  'service_to_dns_ms',
  'pod_start_ms',
  'agent_resync_s',
];
/** Outright bounds at 100 %, well above what an idle machine shows. */
const BOUNDS: Record<string, number> = {
  agents_catch_up_s: 60,
  // 183 MB measured; 328 MB while every agent loaded clients it never used.
  agent_rss_mb: 300,
  // What an agent keeps alive (a heap snapshot): 32.4 MB while every cached pod, slice and
  // Endpoints entry had its own copies of what they repeat, 27.4 MB since (19 MB at 10 %).
  agent_live_mb: 31,
  node_join_ms: 2000,
  service_to_dns_ms: 3000,
  pod_start_ms: 5000,
  agent_resync_s: 30,
  list_pods_ms: 2000,
};

let steps: ScaleStep[] = [];

test('scale: a lab grown from 20 to 200 nodes, 500 to 5,000 pods, 50 to 500 services', async () => {
  steps = await runScale({ nodes: 200, pods: 5000, services: 500 }, [0.1, 1], (line) =>
    console.log(line),
  );
  console.log(stepTable(steps));
  assert.equal(steps.length, 2);
});

test('scale: no cost grows faster than the cluster', () => {
  const over = COSTS.map((f) => [f, growth(steps, f)] as const).filter(([, g]) => g > MAX_GROWTH);
  assert.deepEqual(over, [], `grew more than ${MAX_GROWTH}x from 10 % to 100 %`);
});

test('scale: at 100 % every figure is within its bound', () => {
  const last = steps.at(-1)!.figures;
  const broken = Object.entries(BOUNDS).filter(([f, bound]) => last.get(f)! > bound);
  assert.deepEqual(broken, [], stepTable(steps));
});
