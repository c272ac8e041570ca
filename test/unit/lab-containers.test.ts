import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, Pod } from '../../src/api/types.js';
import { podRestarts, podStatusWord } from '../../src/api/table.js';
import {
  containerStatus,
  nextAction,
  nextWake,
  noCommandMessage,
  recordExit,
  type ContainerRecord,
} from '../../src/lab/containers.js';

const T0 = '2026-01-01T00:00:00.000Z';
const at = (seconds: number): string => new Date(Date.parse(T0) + seconds * 1000).toISOString();
const exit = (exitCode: number, startedAt: string, finishedAt: string) => ({
  exitCode,
  reason: exitCode === 0 ? 'Completed' : 'Error',
  startedAt,
  finishedAt,
});
const key = { namespace: 'default', name: 'web', uid: 'u1' };
const web: Container = { name: 'web', command: ['serve'] };

test('containers: the back-off starts at the base, doubles with each exit and stops at 5 min', () => {
  let rec: ContainerRecord = { starts: 1, startedAt: T0 };
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    rec = recordExit(rec, exit(1, at(i), at(i + 1)));
    delays.push(rec.backoffSeconds!);
    rec = { ...rec, starts: rec.starts + 1, startedAt: at(i) };
  }
  assert.deepEqual(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
});

test('containers: a container that ran 10 minutes before exiting starts its back-off afresh', () => {
  const looping = recordExit({ starts: 5, startedAt: T0, backoffSeconds: 160 }, exit(1, T0, at(5)));
  assert.equal(looping.backoffSeconds, 300);
  const healthy = recordExit(
    { starts: 5, startedAt: T0, backoffSeconds: 160 },
    exit(1, T0, at(600)),
  );
  assert.equal(healthy.backoffSeconds, 10);
  assert.equal(healthy.backoffUntil, at(610));
  assert.equal(healthy.startedAt, undefined);
});

test('containers: a test base (env) shortens the first delay', () => {
  const rec = recordExit({ starts: 1, startedAt: T0 }, exit(1, T0, at(1)), 0.5);
  assert.equal(rec.backoffSeconds, 0.5);
  assert.equal(rec.backoffUntil, at(1.5));
});

test('containers: start when never started or once the back-off is over; Never keeps it ended', () => {
  assert.equal(nextAction(undefined, 'Always', new Date(T0)), 'start');
  const exited = recordExit({ starts: 1, startedAt: T0 }, exit(2, T0, at(1)));
  assert.equal(nextAction(exited, 'Always', new Date(at(5))), 'wait');
  assert.equal(nextAction(exited, 'Always', new Date(at(11))), 'start');
  assert.equal(nextAction(exited, 'Never', new Date(at(11))), 'none');
  assert.equal(nextAction(exited, 'OnFailure', new Date(at(11))), 'start');
  const done = recordExit({ starts: 1, startedAt: T0 }, exit(0, T0, at(1)));
  assert.equal(nextAction(done, 'OnFailure', new Date(at(11))), 'none');
});

test('containers: a crash-looping container is waiting in CrashLoopBackOff with its last exit', () => {
  const rec = recordExit({ starts: 3, startedAt: T0, backoffSeconds: 10 }, exit(1, T0, at(1)));
  const s = containerStatus(web, rec, false, key, 'Always', noCommandMessage(web));
  assert.deepEqual(s.state, {
    waiting: {
      reason: 'CrashLoopBackOff',
      message: 'back-off 20s restarting failed container=web pod=web_default(u1)',
    },
  });
  assert.equal(s.lastState?.terminated?.exitCode, 1);
  assert.equal(s.lastState?.terminated?.reason, 'Error');
  assert.equal(s.restartCount, 2);
  assert.equal(s.ready, false);
});

test('containers: running, never started, ended for good and nothing to run', () => {
  const running = containerStatus(web, { starts: 1, startedAt: T0 }, true, key, 'Always', '');
  assert.deepEqual(running.state, { running: { startedAt: T0 } });
  assert.equal(running.ready, true);
  assert.equal(running.restartCount, 0);
  // A probed container runs before it is ready, and is ready once its probe says so.
  const started = { starts: 1, startedAt: T0 };
  assert.equal(containerStatus(web, started, true, key, 'Always', '', false).ready, false);
  assert.equal(containerStatus(web, started, true, key, 'Always', '', true).ready, true);
  const creating = containerStatus(web, undefined, false, key, 'Always', '');
  assert.deepEqual(creating.state, { waiting: { reason: 'ContainerCreating' } });
  const ended = recordExit({ starts: 1, startedAt: T0 }, exit(3, T0, at(1)));
  const never = containerStatus(web, ended, false, key, 'Never', '');
  assert.equal(never.state.terminated?.exitCode, 3);
  assert.equal(never.lastState, undefined);
  const nginx: Container = { name: 'web', image: 'nginx' };
  const idle = containerStatus(nginx, undefined, false, key, 'Always', noCommandMessage(nginx));
  assert.deepEqual(idle.state.waiting, {
    reason: 'NoCommand',
    message:
      "container web runs nothing: the lab runs commands on the host's filesystem and image nginx is not pulled or run; give it a command",
  });
  assert.equal(idle.ready, false);
});

test('containers: the runner wakes when the earliest back-off ends, not for running ones', () => {
  const a = recordExit({ starts: 1, startedAt: T0 }, exit(1, T0, at(1)));
  const b = recordExit({ starts: 1, startedAt: T0 }, exit(1, T0, at(3)));
  assert.equal(nextWake([a, b, { starts: 1, startedAt: T0 }, undefined]), Date.parse(at(11)));
  assert.equal(nextWake([{ starts: 1, startedAt: T0 }]), undefined);
});

function podWith(status: Pod['status'], deleting = false): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', ...(deleting ? { deletionTimestamp: T0 } : {}) },
    spec: { containers: [web] },
    status,
  };
}

test('get pods: STATUS and RESTARTS as kubectl prints them', () => {
  const looping = recordExit({ starts: 4, startedAt: T0, backoffSeconds: 20 }, exit(1, T0, at(1)));
  const status = containerStatus(web, looping, false, key, 'Always', '');
  const pod = podWith({ phase: 'Running', containerStatuses: [status] });
  assert.equal(podStatusWord(pod), 'CrashLoopBackOff');
  assert.equal(podRestarts(pod, new Date(at(43))), '3 (42s ago)');
  const errored = { ...status, state: { terminated: { exitCode: 1, reason: 'Error' } } };
  assert.equal(podStatusWord(podWith({ phase: 'Running', containerStatuses: [errored] })), 'Error');
  const signalled = { ...status, state: { terminated: { exitCode: 137 } } };
  assert.equal(
    podStatusWord(podWith({ phase: 'Running', containerStatuses: [signalled] })),
    'ExitCode:137',
  );
  assert.equal(podStatusWord(podWith({ phase: 'Running' }, true)), 'Terminating');
  assert.equal(podStatusWord(podWith(undefined)), 'Pending');
  assert.equal(podRestarts(podWith(undefined), new Date(T0)), '0');
});

test('pod admission: no command warns; a node the cluster lacks leaves the pod unscheduled', async () => {
  const { admitPod } = await import('../../src/registry/pods.js');
  const node = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Node' as const,
    metadata: { name },
    spec: {},
  });
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'default' },
    spec: { nodeName: 'node-9', containers: [{ name: 'web', image: 'nginx' }, web] },
  };
  const { pod: admitted, warnings } = admitPod(pod, [node('node-1'), node('node-2')]);
  assert.deepEqual(warnings, [
    "Pod default/web: container web (image nginx) has no command: podnet's lab runs commands on the host's filesystem and pulls no images, so it will run nothing",
    'Pod default/web: no Node named node-9 (the cluster has node-1, node-2): the pod waits until a node of that name joins',
  ]);
  assert.equal(admitted.status?.phase, 'Pending');
  assert.deepEqual(admitted.status?.conditions, [
    {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message:
        'no Node named node-9 (the cluster has node-1, node-2): the pod waits until a node of that name joins',
    },
  ]);
  const placed = admitPod({ ...pod, spec: { nodeName: 'node-1', containers: [web] } }, [
    node('node-1'),
  ]);
  assert.deepEqual(placed.warnings, []);
  assert.equal(placed.pod.status, undefined);
});
