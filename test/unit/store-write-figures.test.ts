import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endedBy, writeFigures, type StoreWrite } from '../../test/helpers/store-write-figures.js';

const write = (seq: number, start: number, ms: number, ok = true): StoreWrite => ({
  seq,
  start,
  ms,
  ok,
  ...(ok ? {} : { error: `failed ${seq}` }),
});

test('store writes: failures counted in the window, gap from the window start to its end', () => {
  const writes = [
    write(0, 900, 10), // before the window
    write(1, 1000, 10),
    write(2, 1100, 2000), // stalled through an election, then acknowledged
    write(3, 1200, 50, false),
    write(4, 3200, 10),
    write(5, 5100, 10), // after the window
  ];
  assert.deepEqual(writeFigures(writes, { from: 1000, to: 4000, clearedAt: 1000 }), {
    ok: 3,
    failed: 1,
    // From the end of write 1 (1010) to the end of write 2 (3100).
    gapMs: 2090,
    firstError: 'failed 3',
  });
});

test('store writes: ended by a time only when no earlier write is still pending', () => {
  const writes = [write(0, 0, 10), write(2, 200, 10), write(3, 300, 10)];
  assert.equal(endedBy(writes, 250), false, 'write 1 has not ended');
  assert.equal(endedBy([...writes, write(1, 100, 500)], 250), true);
  assert.equal(endedBy([write(0, 0, 10)], 250), false, 'nothing started after it yet');
});
