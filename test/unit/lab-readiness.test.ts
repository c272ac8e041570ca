import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container } from '../../src/api/types.js';
import {
  UNPROBED,
  afterProbe,
  probeCheck,
  probeTiming,
  type ProbeState,
} from '../../src/lab/readiness.js';

const dns: Container = {
  name: 'dns',
  command: ['podnet', 'dns'],
  ports: [{ name: 'metrics', containerPort: 9153 }],
};

test('readiness: what a probe checks, against the pod address, by port number or name', () => {
  const probed = (readinessProbe: Container['readinessProbe'], ip = '10.244.1.2') =>
    probeCheck({ ...dns, readinessProbe }, ip);
  assert.equal(probed(undefined), undefined, 'no probe: ready once running');
  assert.deepEqual(probed({ httpGet: { path: '/readyz', port: 'metrics' } }), {
    kind: 'http',
    url: 'http://10.244.1.2:9153/readyz',
  });
  assert.deepEqual(probed({ httpGet: { path: 'readyz', port: 9153 } }, 'fd00:10:244::2'), {
    kind: 'http',
    url: 'http://[fd00:10:244::2]:9153/readyz',
  });
  assert.deepEqual(probed({ httpGet: { port: 8443, scheme: 'HTTPS', host: '127.0.0.1' } }), {
    kind: 'http',
    url: 'https://127.0.0.1:8443/',
  });
  assert.deepEqual(probed({ tcpSocket: { port: 'metrics' } }), {
    kind: 'tcp',
    host: '10.244.1.2',
    port: 9153,
  });
  assert.deepEqual(probed({ exec: { command: ['test', '-e', '/tmp/ok'] } }), {
    kind: 'exec',
    argv: ['test', '-e', '/tmp/ok'],
  });
  assert.deepEqual(probed({ tcpSocket: { port: 'http' } }), {
    kind: 'unresolved',
    reason: 'no container port named "http"',
  });
});

test("readiness: kubelet's defaults, and the thresholds count consecutive results", () => {
  assert.deepEqual(probeTiming({ httpGet: { port: 80 } }), {
    initialDelayMs: 0,
    periodMs: 10_000,
    timeoutMs: 1000,
    successThreshold: 1,
    failureThreshold: 3,
  });
  const t = probeTiming({ tcpSocket: { port: 80 }, successThreshold: 2, failureThreshold: 2 });
  const run = (results: boolean[]): ProbeState =>
    results.reduce((s, passed) => afterProbe(s, passed, t), UNPROBED);
  assert.equal(UNPROBED.ready, false, 'unready until probed');
  assert.equal(run([true]).ready, false, 'one pass of two');
  assert.equal(run([true, false, true]).ready, false, 'passes must be consecutive');
  assert.equal(run([true, true]).ready, true);
  assert.equal(run([true, true, false]).ready, true, 'one failure of two');
  assert.equal(run([true, true, false, true, false]).ready, true, 'failures must be consecutive');
  assert.equal(run([true, true, false, false]).ready, false);
});
