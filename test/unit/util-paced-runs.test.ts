// Passes paced by their own cost: at once when idle, one pass for a burst of asks, and never
// more than 1/(1+factor) of the time under a stream of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pacedRuns, type Clock } from '../../src/util/paced-runs.js';

/** A clock that moves only when told; timers fire as it passes them. */
function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++ids;
      timers.push({ at: now + ms, fn, id });
      return { id } as unknown as { unref?: () => void };
    },
    clearTimeout(handle) {
      timers = timers.filter((t) => t.id !== (handle as { id: number }).id);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
  };
}

/** Paced runs whose every pass costs `ms` on the fake clock; `passes()` counts them. */
function costlyPasses(clock: ReturnType<typeof fakeClock>, ms: number) {
  let passes = 0;
  const runs = pacedRuns(
    () => {
      passes++;
      clock.advance(ms);
    },
    4,
    clock,
  );
  return { runs, passes: () => passes };
}

test('paced runs: the first ask runs at once', () => {
  const clock = fakeClock();
  let passes = 0;
  const runs = pacedRuns(() => passes++, 4, clock);
  runs.trigger();
  assert.equal(passes, 1);
});

test('paced runs: asks during the pause after a costly pass make one pass when it ends', () => {
  const clock = fakeClock();
  // Each pass costs 10 ms: the next may start 40 ms after it ended.
  const { runs, passes } = costlyPasses(clock, 10);
  runs.trigger();
  assert.equal(passes(), 1);
  for (let i = 0; i < 100; i++) {
    clock.advance(0.3);
    runs.trigger();
  }
  // 30 ms of asks: the pause (40 ms after the pass ended at 10 ms) is not over yet.
  assert.equal(passes(), 1);
  clock.advance(11);
  assert.equal(passes(), 2);
});

test('paced runs: a stream of asks takes at most 1/(1+factor) of the time', () => {
  const clock = fakeClock();
  const { runs, passes } = costlyPasses(clock, 5);
  for (let i = 0; i < 10_000; i++) {
    runs.trigger();
    clock.advance(0.1);
  }
  const busy = passes() * 5;
  assert.ok(busy <= 1000 / 5 + 5, `busy ${busy} ms of 1000`);
  assert.ok(busy >= 1000 / 5 - 10, `busy ${busy} ms of 1000: it must still keep up`);
});

test('paced runs: a cheap pass never waits', () => {
  const clock = fakeClock();
  let passes = 0;
  const runs = pacedRuns(() => passes++, 4, clock);
  for (let i = 0; i < 5; i++) runs.trigger();
  assert.equal(passes, 5);
});

test('paced runs: stop drops a pending pass', () => {
  const clock = fakeClock();
  const { runs, passes } = costlyPasses(clock, 10);
  runs.trigger();
  runs.trigger();
  runs.stop();
  clock.advance(100);
  runs.trigger();
  assert.equal(passes(), 1);
});
