import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus } from '../../src/lab/cri-client.js';
import { restartStep } from '../../src/lab/cri-restarts.js';
import { containerStatusOf, latestAttempts, restartedConfig } from '../../src/lab/cri-pods.js';

const T0 = Date.parse('2024-05-01T12:00:00.000Z');
const ns = (ms: number): string => (BigInt(ms) * 1_000_000n).toString();
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);

/** The CRI's status of attempt `attempt` that ran from `started` to `finished` (seconds after T0). */
function exited(attempt: number, started: number, finished: number, exitCode = 1): ContainerStatus {
  return {
    id: `c${attempt}`,
    pod_sandbox_id: 's',
    metadata: { name: 'web', attempt },
    state: 'CONTAINER_EXITED',
    exit_code: exitCode,
    started_at: ns(T0 + started * 1000),
    finished_at: ns(T0 + finished * 1000),
    reason: '',
    message: '',
  };
}

function running(attempt: number, started: number): ContainerStatus {
  return { ...exited(attempt, started, 0), state: 'CONTAINER_RUNNING', finished_at: '0' };
}

test('CRI restarts: an exit waits out the base back-off, then the container is started again', () => {
  const first = restartStep(undefined, exited(0, 0, 1), 'Always', at(2), 10);
  assert.equal(first.action, 'wait');
  assert.equal(first.record.backoffSeconds, 10);
  assert.equal(first.record.backoffUntil, at(11).toISOString());
  // The same exit seen again does not push the back-off further.
  const again = restartStep(first.record, exited(0, 0, 1), 'Always', at(5), 10);
  assert.deepEqual(again.record, first.record);
  assert.equal(again.action, 'wait');
  assert.equal(restartStep(first.record, exited(0, 0, 1), 'Always', at(11), 10).action, 'start');
});

test('CRI restarts: each quick exit doubles the delay; a long healthy run resets it', () => {
  const first = restartStep(undefined, exited(0, 0, 1), 'Always', at(1), 10).record;
  const up = restartStep(first, running(1, 12), 'Always', at(12), 10);
  assert.equal(up.action, 'none');
  assert.equal(up.record.starts, 2);
  const second = restartStep(up.record, exited(1, 12, 13), 'Always', at(14), 10);
  assert.equal(second.record.backoffSeconds, 20);
  assert.equal(second.action, 'wait');
  const healthy = restartStep(second.record, exited(2, 40, 40 + 700), 'Always', at(741), 10);
  assert.equal(healthy.record.backoffSeconds, 10);
});

test('CRI restarts: OnFailure leaves a clean exit ended, Never any exit', () => {
  assert.equal(restartStep(undefined, exited(0, 0, 1, 0), 'OnFailure', at(60), 10).action, 'none');
  assert.equal(restartStep(undefined, exited(0, 0, 1, 3), 'OnFailure', at(60), 10).action, 'start');
  assert.equal(restartStep(undefined, exited(0, 0, 1, 3), 'Never', at(60), 10).action, 'none');
});

test('CRI restarts: the status says CrashLoopBackOff while waiting, terminated once ended for good', () => {
  const waiting = restartStep(undefined, exited(2, 0, 1), 'Always', at(2), 10);
  const s = containerStatusOf(exited(2, 0, 1), waiting);
  assert.equal(s.state.waiting?.reason, 'CrashLoopBackOff');
  assert.equal(s.lastState?.terminated?.exitCode, 1);
  assert.equal(s.restartCount, 2);
  assert.equal(s.ready, false);
  const ended = restartStep(undefined, exited(0, 0, 1, 0), 'Never', at(2), 10);
  assert.equal(containerStatusOf(exited(0, 0, 1, 0), ended).state.terminated?.reason, 'Completed');
});

test('CRI restarts: the next attempt is a new container with its own log; the latest one counts', () => {
  const config = restartedConfig(
    {
      metadata: { name: 'web', attempt: 0 },
      image: { image: 'i' },
      command: [],
      args: [],
      envs: [],
      labels: {},
      mounts: [],
      log_path: 'web.log',
      linux: {},
    },
    exited(1, 0, 1),
  );
  assert.deepEqual(config.metadata, { name: 'web', attempt: 2 });
  assert.equal(config.log_path, 'web.2.log');
  const latest = latestAttempts([exited(1, 0, 1), exited(2, 0, 1), exited(0, 0, 1)]);
  assert.equal(latest.get('web')?.id, 'c2');
});
