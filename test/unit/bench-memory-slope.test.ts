import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slopePerTenMinutes } from '../../bench/lib/memory-slope.js';
import { addressesOf, leaksBetween, staleConntrackEntries } from '../../bench/lib/soak-leaks.js';

test('soak memory slope: MB per 10 minutes after warm-up, warm-up growth left out', () => {
  const minute = 60_000;
  // 50 MB of warm-up in the first 5 minutes, then 0.2 MB a minute.
  const samples = Array.from({ length: 31 }, (_, i) => ({
    at: i * minute,
    mb: i < 5 ? 10 * i : 50 + 0.2 * (i - 5),
  }));
  assert.ok(Math.abs(slopePerTenMinutes(samples, 5 * minute)! - 2) < 1e-9);
  assert.ok(slopePerTenMinutes(samples, 0)! > 2, 'warm-up counted makes it steeper');
  assert.equal(slopePerTenMinutes(samples.slice(0, 6), 5 * minute), undefined);
});

test('soak leaks: a conntrack entry is stale when it names a pod or cluster IP no live object has', () => {
  const listing = [
    'tcp 6 117 TIME_WAIT src=10.244.1.5 dst=10.96.0.20 sport=1 dport=8080 src=10.244.2.7 dst=10.244.1.5 sport=8080 dport=1',
    'udp 17 29 src=10.244.1.5 dst=10.96.0.10 sport=2 dport=53 src=10.244.2.3 dst=10.244.1.5 sport=53 dport=2',
    'tcp 6 431999 ESTABLISHED src=172.31.1.1 dst=172.31.1.254 sport=3 dport=2379 src=172.31.1.254 dst=172.31.1.1 sport=2379 dport=3',
  ].join('\n');
  const live = new Set(['10.244.1.5', '10.96.0.10', '10.244.2.3', '10.96.0.20']);
  assert.deepEqual(
    staleConntrackEntries(listing, live),
    [listing.split('\n')[0]],
    'the endpoint 10.244.2.7 is gone',
  );
  live.add('10.244.2.7');
  assert.deepEqual(staleConntrackEntries(listing, live), []);
});

test("soak leaks: a host's own address in the pod range is live (its probe of a DNS pod)", () => {
  // The lab's readiness probe of a DNS pod: a kept-alive connection from the host's gateway.
  const probe =
    'tcp 6 431999 ESTABLISHED src=10.244.0.1 dst=10.244.0.2 sport=57184 dport=9153 src=10.244.0.2 dst=10.244.0.1 sport=9153 dport=57184 [ASSURED]';
  const ipAddr = JSON.stringify([
    { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1' }] },
    { ifname: 'pn-vxlan', addr_info: [{ family: 'inet', local: '10.244.0.0' }] },
    { ifname: 'pnd598a7940eb', addr_info: [{ family: 'inet', local: '10.244.0.1' }] },
    { ifname: 'eth0' },
  ]);
  assert.deepEqual(addressesOf(ipAddr), ['127.0.0.1', '10.244.0.0', '10.244.0.1']);
  const pods = new Set(['10.244.0.2']);
  assert.deepEqual(staleConntrackEntries(probe, pods), [probe], 'pods alone miss the host');
  assert.deepEqual(staleConntrackEntries(probe, new Set([...pods, ...addressesOf(ipAddr)])), []);
});

test('soak leaks: counts that grew, stale conntrack at any count (each entry listed), and new store keys', () => {
  const entry =
    'udp 17 25 src=10.244.1.5 dst=10.96.0.10 sport=2 dport=53 [UNREPLIED] src=10.244.2.9';
  const before = {
    staleConntrack: new Map([['node-1', []]]),
    counts: new Map([
      ['node-1 veths', 4],
      ['node-1 stale-conntrack', 0],
      ['store keys', 10],
    ]),
    storeKeys: new Set(['/a', '/b']),
  };
  assert.deepEqual(leaksBetween(before, before), []);
  const after = {
    counts: new Map([
      ['node-1 veths', 5],
      ['node-1 stale-conntrack', 2],
      ['store keys', 9],
    ]),
    storeKeys: new Set(['/a', '/c']),
    staleConntrack: new Map([['node-1', [entry, entry]]]),
  };
  assert.deepEqual(leaksBetween(before, after), [
    'node-1 veths 4 → 5',
    'node-1 stale-conntrack 0 → 2',
    `  ${entry}`,
    `  ${entry}`,
    'store key /c',
  ]);
});
