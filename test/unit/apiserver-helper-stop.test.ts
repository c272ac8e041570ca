// The test helper's stop() must come back whatever state the API server is in: a benchmark or
// test that failed stops the server in its `finally`, and a stop that waits for ever there hides
// the failure it is cleaning up after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTempApiServer } from '../helpers/apiserver.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('stop() returns for a server already killed by a signal', { timeout: 60_000 }, async () => {
  const api = await startTempApiServer('pnt-helper-stop-', { stopGraceMs: 500 });
  // As the OOM killer ends it: its exit has passed before the helper stops it.
  process.kill(api.pid, 'SIGKILL');
  while (alive(api.pid)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  await api.close();
});

test('stop() kills a server that does not exit on SIGTERM', { timeout: 60_000 }, async () => {
  const api = await startTempApiServer('pnt-helper-stop-', { stopGraceMs: 500 });
  // A stopped process runs no handler: SIGTERM stays pending, as in a server stuck in a loop.
  process.kill(api.pid, 'SIGSTOP');
  const t0 = performance.now();
  await api.close();
  assert.ok(!alive(api.pid), 'the server is gone');
  assert.ok(performance.now() - t0 >= 500, 'it was given its grace period first');
});

test(
  'stop() ends a healthy server on SIGTERM, within the grace period',
  { timeout: 60_000 },
  async () => {
    const api = await startTempApiServer('pnt-helper-stop-', { stopGraceMs: 30_000 });
    assert.equal((await api.fetch('/version')).status, 200);
    const t0 = performance.now();
    await api.close();
    assert.ok(!alive(api.pid));
    assert.ok(performance.now() - t0 < 30_000);
  },
);
