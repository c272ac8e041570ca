// The guard's route counts: one read per table, then its own writes, and a read again after a
// write it cannot follow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  countKey,
  parseCountKey,
  RouteCounts,
  routesOfFamily,
} from '../../src/lab/cloud-route-counts.js';

function counted(tables: Record<string, number>) {
  const reads: string[] = [];
  const counts = new RouteCounts(async (table) => {
    reads.push(table);
    return tables[table];
  });
  return { counts, reads };
}

test('the guard reads a table once, then counts its own creates and deletes', async () => {
  const { counts, reads } = counted({ 'rtb-1': 10 });
  assert.equal(await counts.count('rtb-1'), 10);
  counts.routeCall('CreateRoute', 'rtb-1', true);
  counts.routeCall('CreateRoute', 'rtb-1', true);
  counts.routeCall('DeleteRoute', 'rtb-1', true);
  counts.routeCall('ReplaceRoute', 'rtb-1', true);
  assert.equal(await counts.count('rtb-1'), 11);
  assert.deepEqual(reads, ['rtb-1']);
});

test('the guard reads a table again after a failed call or another write, and never caches a missing one', async () => {
  const tables: Record<string, number> = { 'rtb-1': 3 };
  const { counts, reads } = counted(tables);
  assert.equal(await counts.count('rtb-1'), 3);
  counts.routeCall('CreateRoute', 'rtb-1', false);
  tables['rtb-1'] = 4;
  assert.equal(await counts.count('rtb-1'), 4);
  counts.forgetAll();
  tables['rtb-1'] = 7;
  assert.equal(await counts.count('rtb-1'), 7);
  assert.equal(await counts.count('rtb-2'), undefined);
  tables['rtb-2'] = 1;
  assert.equal(await counts.count('rtb-2'), 1);
  assert.deepEqual(reads, ['rtb-1', 'rtb-1', 'rtb-1', 'rtb-2', 'rtb-2']);
});

test('the guard counts IPv4 and IPv6 routes of a table apart, as AWS holds each to the quota', () => {
  const destinations = ['172.31.0.0/16', '10.244.1.0/24', 'fd00:10:244:1::/64'];
  assert.equal(routesOfFamily(destinations, 4), 2, 'the local route counts as IPv4');
  assert.equal(routesOfFamily(destinations, 6), 1);
  assert.notEqual(countKey('rtb-1', 4), countKey('rtb-1', 6));
  assert.deepEqual(parseCountKey(countKey('rtb-1', 6)), { table: 'rtb-1', family: 6 });
  assert.deepEqual(parseCountKey(countKey('rtb-1', 4)), { table: 'rtb-1', family: 4 });
});
