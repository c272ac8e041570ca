import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OnDemand } from '../../src/ui/server/on-demand.js';

test('ui: doctor and flows run only while the map is looked at, and a while after', async () => {
  const log: string[] = [];
  const watched = new OnDemand(() => {
    log.push('start');
    return () => log.push('stop');
  }, 30);
  assert.equal(watched.active, false, 'an unwatched map runs nothing');
  const first = watched.view();
  const second = watched.view();
  assert.deepEqual(log, ['start'], 'one run for every viewer');
  first();
  first();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(watched.active, true, 'a viewer is still there');
  second();
  assert.equal(watched.active, true, 'it lingers after the last one leaves');
  const again = watched.view();
  again();
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(log, ['start', 'stop'], 'a viewer back within the linger kept the same run');
  watched.touch();
  assert.deepEqual(log, ['start', 'stop', 'start'], 'a one-off request starts it');
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(log, ['start', 'stop', 'start', 'stop']);
  watched.stop();
  assert.equal(log.length, 4, 'stopping what is not running does nothing');
});
