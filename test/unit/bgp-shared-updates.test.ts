// A reflector's clients of one export class are sent the very same attributes object, and an
// UPDATE due to several of them (a change, or a new client's whole table) is encoded once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PathAttributes } from '../../src/bgp/message.js';
import { exportClass, type LocalConfig, type PeerInfo } from '../../src/bgp/policy.js';
import { parseIpv4Key as key, type Ipv4PrefixKey } from '../../src/bgp/prefix-key.js';
import { AdjRibOut, Rib } from '../../src/bgp/rib.js';
import { SharedUpdates } from '../../src/bgp/shared-updates.js';

const RR: LocalConfig = { asNumber: 64512, bgpId: '10.0.0.1', clusterId: '10.0.0.1' };

const client = (address: string, over: Partial<PeerInfo> = {}): PeerInfo => ({
  key: address,
  kind: 'ibgp',
  asNumber: 64512,
  bgpId: address,
  rrClient: true,
  localAddress: '10.0.0.1',
  address,
  ...over,
});

test('bgp export class: clients alike share exported attributes; another next hop self does not', () => {
  const rib = new Rib(RR);
  const [a, b, c] = [client('10.0.0.2'), client('10.0.0.3'), client('10.0.0.4')];
  const other = client('10.0.0.5', { localAddress: '10.0.1.1' });
  assert.equal(exportClass(a), exportClass(b));
  assert.notEqual(exportClass(a), exportClass(other));
  const shared = new WeakMap<PathAttributes, PathAttributes>();
  const outs = [a, b].map((p) => new AdjRibOut(RR, p, shared));
  const changed = rib.announce(c, { origin: 0, asPath: [], nextHop: '10.0.0.4', unknown: [] }, [
    key('10.244.4.0/24'),
  ]);
  const [toA, toB] = outs.map((o) => [...o.plan(rib, changed).announce.keys()][0]);
  assert.ok(toA !== undefined && toA === toB, 'the same exported object for both clients');
  assert.deepEqual(toA.clusterList, ['10.0.0.1']);
  const toOther = [...new AdjRibOut(RR, other).plan(rib, changed).announce.keys()][0];
  assert.notEqual(toOther, toA);
});

test('bgp shared updates: the same attributes, prefixes and context are encoded once', () => {
  const shared = new SharedUpdates<Ipv4PrefixKey>();
  const attrs: PathAttributes = { origin: 0, asPath: [], nextHop: '10.0.0.4', unknown: [] };
  let encodings = 0;
  const encode = () => [Buffer.from([++encodings])];
  const prefixes = [key('10.244.4.0/24'), key('10.244.5.0/24')];
  const first = shared.announce(attrs, prefixes, 'true', encode);
  assert.equal(shared.announce(attrs, [...prefixes], 'true', encode), first);
  assert.equal(encodings, 1);
  // Other prefixes, another session context, or other attributes: encoded anew.
  shared.announce(attrs, prefixes.slice(1), 'true', encode);
  shared.announce(attrs, prefixes, 'false', encode);
  shared.announce({ ...attrs }, prefixes, 'true', encode);
  assert.equal(encodings, 4);
  const gone = shared.withdraw(prefixes, encode);
  assert.equal(shared.withdraw([...prefixes], encode), gone);
  assert.equal(encodings, 5);
  // A caller changing its array afterwards changes nothing that was kept.
  const mine = [key('10.244.6.0/24')];
  const six = shared.announce(attrs, mine, 'true', encode);
  mine.push(key('10.244.7.0/24'));
  assert.notEqual(shared.announce(attrs, mine, 'true', encode), six);
  assert.equal(shared.announce(attrs, [key('10.244.6.0/24')], 'true', encode), six);
});
