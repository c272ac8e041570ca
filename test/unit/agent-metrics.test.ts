// The tests' reading of an agent's Prometheus text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricValue } from '../helpers/agent-metrics.js';

const TEXT = `# HELP podnet_guard_drops_total Packets dropped
# TYPE podnet_guard_drops_total counter
podnet_guard_drops_total{reason="spoofed"} 3
podnet_guard_drops_total{reason="host-port"} 4
podnet_cni_call_duration_seconds_count{command="ADD",outcome="ok"} 5
podnet_cni_call_duration_seconds_count{command="ADD",outcome="error"} 1
podnet_cni_call_duration_seconds_count{command="DEL",outcome="ok"} 2
podnet_policy_drops_total{policy="x/a,x/b",direction="ingress"} 8
podnet_up 1
`;

test('agent metrics: samples summed over those carrying every label asked for', () => {
  assert.equal(metricValue(TEXT, 'podnet_guard_drops_total', { reason: 'spoofed' }), 3);
  assert.equal(metricValue(TEXT, 'podnet_guard_drops_total'), 7);
  assert.equal(metricValue(TEXT, 'podnet_cni_call_duration_seconds_count', { command: 'ADD' }), 6);
  assert.equal(
    metricValue(TEXT, 'podnet_cni_call_duration_seconds_count', { command: 'ADD', outcome: 'ok' }),
    5,
  );
  assert.equal(metricValue(TEXT, 'podnet_up'), 1);
  assert.equal(metricValue(TEXT, 'podnet_policy_drops_total', { policy: 'x/a,x/b' }), 8);
  assert.equal(metricValue(TEXT, 'podnet_policy_drops_total', { policy: 'x/a' }), undefined);
});

test('agent metrics: no sample is undefined, not zero; a prefix of a name is another metric', () => {
  assert.equal(metricValue(TEXT, 'podnet_guard_drops_total', { reason: 'tunnel' }), undefined);
  assert.equal(metricValue(TEXT, 'podnet_guard_drops'), undefined);
  assert.equal(metricValue(TEXT, 'podnet_cni_call_duration_seconds'), undefined);
});
