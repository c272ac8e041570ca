import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  comparePaths,
  exportAttributes,
  importRejection,
  mayAdvertise,
  type LocalConfig,
  type Path,
  type PeerInfo,
} from '../../src/bgp/policy.js';
import { AdjRibOut, Rib } from '../../src/bgp/rib.js';
import { parseIpv4Key as key, type Ipv4PrefixKey } from '../../src/bgp/prefix-key.js';
import type { PathAttributes } from '../../src/bgp/message.js';

const LOCAL: LocalConfig = { asNumber: 64512, bgpId: '10.0.0.1' };
const RR: LocalConfig = { ...LOCAL, clusterId: '10.0.0.1' };

function peer(key: string, over: Partial<PeerInfo> = {}): PeerInfo {
  return {
    key,
    kind: 'ibgp',
    asNumber: 64512,
    bgpId: key,
    rrClient: false,
    localAddress: '10.0.0.1',
    address: key,
    ...over,
  };
}
const SELF = peer('local', { kind: 'local', bgpId: '10.0.0.1' });

function attrs(over: Partial<PathAttributes> = {}): PathAttributes {
  return { origin: 0, asPath: [], nextHop: '10.0.0.9', unknown: [], ...over };
}
function path(a: Partial<PathAttributes>, source = peer('10.0.0.2')): Path {
  return { attrs: attrs(a), source, stale: false };
}
const seq = (...asns: number[]) => [{ type: 2, asns }];

test('bgp best path: each tie-breaker in RFC 4271 order', () => {
  const better = (a: Path, b: Path) => {
    assert.ok(comparePaths(a, b) < 0, 'a should beat b');
    assert.ok(comparePaths(b, a) > 0, 'b should lose to a');
  };
  better(path({ localPref: 200, asPath: seq(1, 2, 3) }), path({ localPref: 100 }));
  better(path({ asPath: seq(1) }), path({ asPath: seq(1, 2) }));
  // An AS_SET counts as one.
  better(path({ asPath: [{ type: 1, asns: [5, 6, 7] }] }), path({ asPath: seq(1, 2) }));
  better(path({ origin: 0 }), path({ origin: 2 }));
  better(path({ asPath: seq(7), med: 10 }), path({ asPath: seq(7), med: 20 }));
  // MED only between paths from the same neighbouring AS: here the router id decides.
  const lowId = peer('10.0.0.2');
  const highId = peer('10.0.0.3');
  better(path({ asPath: seq(7), med: 50 }, lowId), path({ asPath: seq(8), med: 1 }, highId));
  better(path({}, peer('10.0.0.5', { kind: 'ebgp', asNumber: 65000 })), path({}, lowId));
  better(path({}, lowId), path({}, highId));
  // ORIGINATOR_ID stands in for the router id of reflected paths.
  better(path({ originatorId: '10.0.0.1' }, highId), path({}, peer('10.0.0.2')));
  better(
    path({ clusterList: ['1.1.1.1'] }, lowId),
    path({ clusterList: ['1.1.1.1', '2.2.2.2'] }, lowId),
  );
  better(
    path({}, peer('10.0.0.2', { address: '10.1.0.1' })),
    path({}, peer('10.0.0.2', { address: '10.1.0.2' })),
  );
  // Our own routes win.
  better({ attrs: attrs(), source: SELF, stale: false }, path({ localPref: 1000 }));
});

test('bgp import: loops are refused, LOCAL_PREF from eBGP is ignored', () => {
  const ebgp = peer('192.0.2.1', { kind: 'ebgp', asNumber: 65000 });
  assert.equal(
    importRejection(LOCAL, ebgp, attrs({ asPath: seq(65000, 64512, 1) })),
    'AS_PATH loop',
  );
  assert.equal(importRejection(LOCAL, ebgp, attrs({ asPath: seq(65000) })), undefined);
  const ibgp = peer('10.0.0.2');
  assert.equal(
    importRejection(LOCAL, ibgp, attrs({ originatorId: '10.0.0.1' })),
    'ORIGINATOR_ID is our own',
  );
  assert.equal(
    importRejection(RR, ibgp, attrs({ clusterList: ['9.9.9.9', '10.0.0.1'] })),
    'CLUSTER_LIST holds our cluster id',
  );
  const rib = new Rib(LOCAL);
  rib.announce(ebgp, attrs({ asPath: seq(65000), localPref: 999 }), [key('10.1.0.0/16')]);
  assert.equal(rib.locRib().get(key('10.1.0.0/16'))?.attrs.localPref, undefined);
  // A looped re-announcement withdraws the earlier path from that peer.
  rib.announce(ebgp, attrs({ asPath: seq(65000, 64512) }), [key('10.1.0.0/16')]);
  assert.equal(rib.locRib().size, 0);
  assert.equal(rib.rejected.get('192.0.2.1'), 1);
});

test('bgp export: iBGP is not re-advertised to iBGP; eBGP gets prepend and next-hop self', () => {
  const fromIbgp = path({ localPref: 150, med: 5 }, peer('10.0.0.2'));
  assert.equal(mayAdvertise(LOCAL, fromIbgp, peer('10.0.0.3')), false);
  const ebgp = peer('192.0.2.1', { kind: 'ebgp', asNumber: 65000, localAddress: '192.0.2.2' });
  assert.equal(mayAdvertise(LOCAL, fromIbgp, ebgp), true);
  const out = exportAttributes(
    LOCAL,
    path({
      asPath: seq(65001),
      localPref: 150,
      med: 5,
      originatorId: '1.1.1.1',
      clusterList: ['2.2.2.2'],
    }),
    ebgp,
  );
  assert.deepEqual(out.asPath, seq(64512, 65001));
  assert.equal(out.nextHop, '192.0.2.2');
  assert.equal(out.localPref, undefined);
  assert.equal(out.med, undefined);
  assert.equal(out.originatorId, undefined);
  assert.equal(out.clusterList, undefined);
  // Never back to where it came from.
  assert.equal(mayAdvertise(LOCAL, path({}, ebgp), ebgp), false);
  // Our own route to an iBGP peer: next hop self, LOCAL_PREF 100, empty AS_PATH.
  const own: Path = { attrs: attrs({ nextHop: undefined }), source: SELF, stale: false };
  const toIbgp = exportAttributes(LOCAL, own, peer('10.0.0.3', { localAddress: '10.0.0.1' }));
  assert.deepEqual([toIbgp.nextHop, toIbgp.localPref, toIbgp.asPath], ['10.0.0.1', 100, []]);
  // eBGP-learned to iBGP: next hop and AS_PATH unchanged.
  const e = exportAttributes(
    LOCAL,
    path({ asPath: seq(65000), nextHop: '192.0.2.1' }, ebgp),
    peer('10.0.0.3'),
  );
  assert.deepEqual([e.nextHop, e.asPath], ['192.0.2.1', seq(65000)]);
});

test('bgp route reflection: client/non-client rules and reflection attributes (RFC 4456)', () => {
  const client = peer('10.0.0.2', { rrClient: true });
  const client2 = peer('10.0.0.3', { rrClient: true });
  const nonClient = peer('10.0.0.4');
  const nonClient2 = peer('10.0.0.5');
  const fromClient = path({}, client);
  const fromNonClient = path({}, nonClient);
  assert.equal(mayAdvertise(RR, fromClient, client2), true);
  assert.equal(mayAdvertise(RR, fromClient, nonClient), true);
  assert.equal(mayAdvertise(RR, fromClient, client), false);
  assert.equal(mayAdvertise(RR, fromNonClient, client), true);
  assert.equal(mayAdvertise(RR, fromNonClient, nonClient2), false);
  const out = exportAttributes(
    RR,
    path({ nextHop: '10.0.0.2', med: 7, localPref: 120 }, client),
    client2,
  );
  assert.equal(out.originatorId, '10.0.0.2');
  assert.deepEqual(out.clusterList, ['10.0.0.1']);
  assert.deepEqual([out.nextHop, out.med, out.localPref], ['10.0.0.2', 7, 120]);
  // An existing ORIGINATOR_ID is kept; our cluster id goes in front.
  const again = exportAttributes(
    RR,
    path({ originatorId: '10.9.9.9', clusterList: ['7.7.7.7'] }, client),
    client2,
  );
  assert.equal(again.originatorId, '10.9.9.9');
  assert.deepEqual(again.clusterList, ['10.0.0.1', '7.7.7.7']);
});

test('bgp rib: withdrawals fall back to the next best; a peer going drops all its paths', () => {
  const rib = new Rib(LOCAL);
  const a = peer('10.0.0.2');
  const b = peer('10.0.0.3');
  assert.deepEqual(
    rib.announce(a, attrs({ localPref: 200 }), [key('10.244.1.0/24'), key('10.244.2.0/24')]),
    [key('10.244.1.0/24'), key('10.244.2.0/24')],
  );
  // A worse path changes nothing.
  assert.deepEqual(rib.announce(b, attrs({ localPref: 100 }), [key('10.244.1.0/24')]), []);
  assert.deepEqual(rib.withdraw(a, [key('10.244.1.0/24')]), [key('10.244.1.0/24')]);
  assert.equal(rib.locRib().get(key('10.244.1.0/24'))?.source.key, '10.0.0.3');
  assert.deepEqual(rib.dropSource('10.0.0.2'), [key('10.244.2.0/24')]);
  assert.deepEqual([...rib.locRib().keys()], [key('10.244.1.0/24')]);
  assert.equal(rib.adjRibIn('10.0.0.3').size, 1);
  // Withdrawing what was never announced changes nothing.
  assert.deepEqual(rib.withdraw(a, [key('10.99.0.0/16')]), []);
});

test('bgp rib: graceful restart keeps stale paths until End-of-RIB sweeps the unrenewed', () => {
  const rib = new Rib(LOCAL);
  const a = peer('10.0.0.2');
  rib.announce(a, attrs(), [key('10.244.1.0/24'), key('10.244.2.0/24')]);
  rib.markStale('10.0.0.2');
  assert.equal(rib.locRib().size, 2);
  assert.equal(rib.locRib().get(key('10.244.1.0/24'))?.stale, true);
  rib.announce(a, attrs(), [key('10.244.1.0/24')]);
  assert.deepEqual(rib.sweepStale('10.0.0.2'), [key('10.244.2.0/24')]);
  assert.deepEqual([...rib.locRib().keys()], [key('10.244.1.0/24')]);
  assert.equal(rib.locRib().get(key('10.244.1.0/24'))?.stale, false);
});

test('bgp rib: the prefixes of one UPDATE share one path; withdrawing one leaves the others', () => {
  const rib = new Rib(LOCAL);
  const a = peer('10.0.0.2');
  const prefixes = [key('10.244.1.0/24'), key('10.244.2.0/24'), key('10.244.3.0/24')];
  rib.announce(a, attrs({ localPref: 150 }), prefixes);
  const shared = rib.locRib().get(key('10.244.1.0/24'));
  for (const p of prefixes) assert.equal(rib.locRib().get(p), shared);
  assert.equal(rib.count('10.0.0.2'), 3);
  assert.deepEqual(rib.withdraw(a, [key('10.244.2.0/24')]), [key('10.244.2.0/24')]);
  assert.deepEqual([...rib.locRib().keys()], [key('10.244.1.0/24'), key('10.244.3.0/24')]);
  assert.equal(rib.locRib().get(key('10.244.3.0/24')), shared);
  assert.equal(shared?.attrs.localPref, 150);
  assert.equal(rib.count('10.0.0.2'), 2);
  // A later UPDATE for one of them replaces that prefix's path only (an implicit withdraw).
  assert.deepEqual(rib.announce(a, attrs({ localPref: 170 }), [key('10.244.3.0/24')]), [
    key('10.244.3.0/24'),
  ]);
  assert.equal(rib.locRib().get(key('10.244.3.0/24'))?.attrs.localPref, 170);
  assert.equal(rib.locRib().get(key('10.244.1.0/24')), shared);
  assert.equal(rib.count('10.0.0.2'), 2);
});

test('bgp rib: a prefix from several sources keeps each path; the best follows withdrawals', () => {
  const rib = new Rib(LOCAL);
  const [a, b, c] = [peer('10.0.0.2'), peer('10.0.0.3'), peer('10.0.0.4')];
  const p = key('10.244.1.0/24');
  rib.announce(a, attrs({ localPref: 100 }), [p]);
  assert.deepEqual(rib.announce(b, attrs({ localPref: 300 }), [p]), [p]);
  assert.deepEqual(rib.announce(c, attrs({ localPref: 200 }), [p]), []);
  assert.equal(rib.locRib().get(p)?.source.key, '10.0.0.3');
  assert.equal(rib.locRib().size, 1);
  assert.deepEqual(
    ['10.0.0.2', '10.0.0.3', '10.0.0.4'].map((k) => rib.adjRibIn(k).get(p)?.attrs.localPref),
    [100, 300, 200],
  );
  // The best source lowers its preference: reselection picks c.
  assert.deepEqual(rib.announce(b, attrs({ localPref: 50 }), [p]), [p]);
  assert.equal(rib.locRib().get(p)?.source.key, '10.0.0.4');
  // A non-best source leaving changes nothing; then the best leaving falls back to b.
  assert.deepEqual(rib.withdraw(a, [p]), []);
  assert.deepEqual(rib.withdraw(c, [p]), [p]);
  assert.equal(rib.locRib().get(p)?.source.key, '10.0.0.3');
  assert.deepEqual(
    [rib.count('10.0.0.2'), rib.count('10.0.0.3'), rib.count('10.0.0.4')],
    [0, 1, 0],
  );
  assert.deepEqual(rib.withdraw(b, [p]), [p]);
  assert.equal(rib.locRib().size, 0);
});

test('bgp rib: stale marking reaches a contested prefix and End-of-RIB sweeps only that source', () => {
  const rib = new Rib(LOCAL);
  const [a, b] = [peer('10.0.0.2'), peer('10.0.0.3')];
  rib.announce(a, attrs({ localPref: 200 }), [key('10.244.1.0/24'), key('10.244.2.0/24')]);
  rib.announce(b, attrs({ localPref: 100 }), [key('10.244.1.0/24')]);
  rib.markStale('10.0.0.2');
  assert.equal(rib.staleCount('10.0.0.2'), 2);
  assert.equal(rib.locRib().get(key('10.244.1.0/24'))?.stale, true);
  assert.equal(rib.adjRibIn('10.0.0.3').get(key('10.244.1.0/24'))?.stale, false);
  assert.deepEqual(rib.sweepStale('10.0.0.2'), [key('10.244.1.0/24'), key('10.244.2.0/24')]);
  assert.deepEqual(
    [...rib.locRib()].map(([prefix, path]) => [prefix, path.source.key, path.stale]),
    [[key('10.244.1.0/24'), '10.0.0.3', false]],
  );
  assert.equal(rib.count('10.0.0.2'), 0);
});

test('bgp adj-rib-out: only differences, grouped by shared attributes', () => {
  const rib = new Rib(LOCAL);
  const to = peer('10.0.0.3');
  const out = new AdjRibOut(LOCAL, to);
  const own = attrs({ nextHop: undefined });
  const changed = rib.announce(SELF, own, [key('10.244.0.0/24'), key('10.244.9.0/24')]);
  const first = out.plan(rib, changed);
  assert.equal(first.announce.size, 1);
  assert.deepEqual([...first.announce.values()][0], [key('10.244.0.0/24'), key('10.244.9.0/24')]);
  assert.equal([...first.announce.keys()][0]!.nextHop, '10.0.0.1');
  // Nothing changed → nothing to send.
  const again = out.plan(rib, [key('10.244.0.0/24')]);
  assert.deepEqual([again.announce.size, again.withdraw], [0, []]);
  // iBGP-learned paths are not for iBGP peers: no announcement, and no withdrawal either.
  const learnt = rib.announce(peer('10.0.0.2'), attrs(), [key('10.250.0.0/24')]);
  assert.deepEqual(out.plan(rib, learnt).withdraw, []);
  const gone = rib.withdraw(SELF, [key('10.244.9.0/24')]);
  assert.deepEqual(out.plan(rib, gone).withdraw, [key('10.244.9.0/24')]);
  assert.equal(out.size, 1);
});

/**
 * Three reflectors in a ring, each a client of the next (A → B → C → A), different clusters.
 * A originates a prefix and withdraws it. With ORIGINATOR_ID/CLUSTER_LIST the withdrawal
 * settles; when a broken peer strips those attributes, the paths chase each other forever.
 */
function ring(stripReflectionAttributes: boolean): { messages: number; leftover: number } {
  const ids = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  const ribs = ids.map((id) => new Rib({ asNumber: 64512, bgpId: id, clusterId: id }));
  // Node i's view of its neighbours: next (i+1) treats i as a client; i treats its
  // predecessor as a client too.
  const view = (i: number, j: number): PeerInfo =>
    peer(ids[j]!, { rrClient: j === (i + 2) % 3, localAddress: ids[i]! });
  const outs = ids.map((_, i) =>
    [1, 2].map((d) => new AdjRibOut(ribs[i]!.local, view(i, (i + d) % 3))),
  );
  const queue: { to: number; from: number; attrs?: PathAttributes; prefix: Ipv4PrefixKey }[] = [];
  const propagate = (i: number, changed: Ipv4PrefixKey[]) => {
    for (const out of outs[i]!) {
      const plan = out.plan(ribs[i]!, changed);
      const to = ids.indexOf(out.peer.key);
      for (const [a, prefixes] of plan.announce) {
        let sent = a;
        if (stripReflectionAttributes) {
          sent = { ...a };
          delete sent.originatorId;
          delete sent.clusterList;
        }
        for (const prefix of prefixes) queue.push({ to, from: i, attrs: sent, prefix });
      }
      for (const prefix of plan.withdraw) queue.push({ to, from: i, prefix });
    }
  };
  const self = peer('local', { kind: 'local', bgpId: ids[0]! });
  propagate(0, ribs[0]!.announce(self, attrs({ nextHop: undefined }), [key('10.244.0.0/24')]));
  let messages = 0;
  let withdrawn = false;
  while (queue.length && messages < 1000) {
    const m = queue.shift()!;
    messages++;
    const src = view(m.to, m.from);
    const changed = m.attrs
      ? ribs[m.to]!.announce(src, m.attrs, [m.prefix])
      : ribs[m.to]!.withdraw(src, [m.prefix]);
    propagate(m.to, changed);
    if (!queue.length && !withdrawn) {
      withdrawn = true;
      propagate(0, ribs[0]!.withdraw('local', [key('10.244.0.0/24')]));
    }
  }
  return { messages, leftover: ribs.reduce((n, r) => n + r.locRib().size, 0) };
}

test('bgp adj-rib-out: prefixes whose best paths alternate each get their own export decision', () => {
  const rib = new Rib(LOCAL);
  const a = peer('10.0.0.2', { kind: 'ebgp', asNumber: 65001 });
  const to = peer('10.0.0.3', { kind: 'ebgp', asNumber: 65002 });
  rib.announce(a, attrs({ asPath: seq(65001) }), [key('10.1.0.0/16'), key('10.3.0.0/16')]);
  rib.announce(to, attrs({ asPath: seq(65002) }), [key('10.2.0.0/16')]);
  const out = new AdjRibOut(LOCAL, to);
  // 10.2.0.0/16 came from `to` itself: never sent back, however the runs fall.
  const changes = out.plan(rib, [
    key('10.1.0.0/16'),
    key('10.2.0.0/16'),
    key('10.3.0.0/16'),
    key('10.2.0.0/16'),
  ]);
  assert.deepEqual([...changes.announce.values()], [[key('10.1.0.0/16'), key('10.3.0.0/16')]]);
  assert.deepEqual(changes.withdraw, []);
  assert.equal(out.size, 2);
});

test('bgp route reflection: ORIGINATOR_ID/CLUSTER_LIST stop a reflection loop', () => {
  const safe = ring(false);
  assert.ok(safe.messages < 20, `settled after ${safe.messages} messages`);
  assert.equal(safe.leftover, 0);
  // The same ring without the reflection attributes never settles: the check is what stops it.
  const broken = ring(true);
  assert.equal(broken.messages, 1000, 'without the attributes the paths circulate forever');
});

test('bgp adj-rib-out: the new bests decide without lookups when a peer may have none of them', () => {
  const rib = new Rib(LOCAL);
  const a = peer('10.0.0.2', { kind: 'ebgp', asNumber: 65001 });
  const to = peer('10.0.0.3', { kind: 'ebgp', asNumber: 65002 });
  const out = new AdjRibOut(LOCAL, to);
  let lookups = 0;
  const lookup = rib.bestPath.bind(rib);
  rib.bestPath = (prefix) => (lookups++, lookup(prefix));
  // A table from `to` itself: nothing goes back to it, and no prefix is looked at.
  const own = rib.announce(to, attrs({ asPath: seq(65002) }), [
    key('10.2.0.0/16'),
    key('10.4.0.0/16'),
  ]);
  const none = out.plan(rib, own, rib.takeNewBests());
  assert.deepEqual([none.announce.size, none.withdraw, lookups], [0, [], 0]);
  // a's longer path for one of them loses; when `to` withdraws, the best falls back to it.
  const lost = rib.announce(a, attrs({ asPath: seq(65001, 65009) }), [key('10.2.0.0/16')]);
  assert.deepEqual(lost, []);
  assert.equal(rib.locRib().get(key('10.2.0.0/16'))?.source.key, '10.0.0.3');
  // The fallback is a new best that `to` may have: the plan looks, and announces it.
  const fellBack = rib.withdraw(to, [key('10.2.0.0/16')]);
  const told = out.plan(rib, fellBack, rib.takeNewBests());
  assert.deepEqual([...told.announce.values()], [[key('10.2.0.0/16')]]);
  assert.ok(lookups > 0);
});
