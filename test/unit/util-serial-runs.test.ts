import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serialRuns } from '../../src/util/serial-runs.js';

function gate(): { wait: Promise<void>; release: () => void } {
  let release = (): void => {};
  const wait = new Promise<void>((r) => (release = r));
  return { wait, release };
}

test('serial runs: triggers before open are ignored, open runs once', async () => {
  let runs = 0;
  const r = serialRuns(
    async () => {
      runs++;
    },
    () => {},
  );
  r.trigger();
  await r.idle();
  assert.equal(runs, 0);
  r.open();
  await r.idle();
  assert.equal(runs, 1);
});

test('serial runs: a burst of triggers during a run costs exactly one more run, never two at once', async () => {
  let runs = 0;
  let concurrent = 0;
  let most = 0;
  let first = gate();
  const r = serialRuns(
    async () => {
      runs++;
      concurrent++;
      most = Math.max(most, concurrent);
      await first.wait;
      concurrent--;
    },
    (err) => assert.fail(String(err)),
  );
  r.open();
  for (let i = 0; i < 5; i++) r.trigger();
  first.release();
  first = { wait: Promise.resolve(), release: () => {} };
  await r.idle();
  assert.equal(runs, 2);
  assert.equal(most, 1);
});

test('serial runs: a failed run is reported and the next trigger runs again; stop ends runs', async () => {
  let runs = 0;
  const errors: string[] = [];
  const r = serialRuns(
    async () => {
      runs++;
      if (runs === 1) throw new Error('boom');
    },
    (err) => errors.push(String(err)),
  );
  r.open();
  await r.idle();
  assert.deepEqual(errors, ['Error: boom']);
  r.trigger();
  await r.idle();
  assert.equal(runs, 2);
  await r.stop();
  r.trigger();
  await r.idle();
  assert.equal(runs, 2);
});
