import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { OnDemand } from '../../src/ui/server/on-demand.js';

test('ui: doctor and flows run only while the map is looked at, and a while after', () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
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
    mock.timers.tick(60);
    assert.equal(watched.active, true, 'a viewer is still there');
    second();
    assert.equal(watched.active, true, 'it lingers after the last one leaves');
    const again = watched.view();
    again();
    mock.timers.tick(29);
    assert.deepEqual(log, ['start'], 'a viewer back within the linger kept the same run');
    mock.timers.tick(1);
    assert.deepEqual(log, ['start', 'stop']);
    watched.touch();
    assert.deepEqual(log, ['start', 'stop', 'start'], 'a one-off request starts it');
    mock.timers.tick(30);
    assert.deepEqual(log, ['start', 'stop', 'start', 'stop']);
    watched.stop();
    assert.equal(log.length, 4, 'stopping what is not running does nothing');
  } finally {
    mock.timers.reset();
  }
});
