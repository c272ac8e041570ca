import assert from 'node:assert/strict';
import { test } from 'node:test';
import { floorRatio } from '../../bench/lib/stats.js';

test("bench floor ratio: what IPv6 adds to a floor server's time per query, added to ours", () => {
  // The floor answers 100,000/s over IPv4 and 80,000/s over IPv6: IPv6 adds 2.5 µs a query.
  // Ours answers 50,000/s (20 µs a query) over IPv4: 20 / 22.5 µs.
  assert.ok(Math.abs(floorRatio(50_000, 100_000, 80_000) - 20 / 22.5) < 1e-12);
  assert.equal(floorRatio(50_000, 100_000, 100_000), 1, 'an IPv6 that costs the floor nothing');
  assert.ok(
    floorRatio(10_000, 100_000, 80_000) > floorRatio(50_000, 100_000, 80_000),
    'a slower server hides more of the same kernel cost',
  );
});
