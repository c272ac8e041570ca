import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDestination, searchCandidates } from '../../src/cli/trace.js';
import { serviceHop, tracePath, verdict, type PathFacts } from '../../src/diagnose/trace.js';

test('trace: destinations parse with and without a port; a bad port is a usage error', () => {
  assert.deepEqual(parseDestination('my-svc'), { host: 'my-svc', port: undefined });
  assert.deepEqual(parseDestination('10.96.0.10:53'), { host: '10.96.0.10', port: 53 });
  assert.throws(() => parseDestination('my-svc:70000'), /optional :PORT \(1-65535\)/);
});

test('trace: short names walk the search list; names with 5 dots or a final dot do not', () => {
  assert.deepEqual(searchCandidates('my-svc', 'ns', 'cluster.local'), [
    'my-svc.ns.svc.cluster.local',
    'my-svc.svc.cluster.local',
    'my-svc.cluster.local',
    'my-svc',
  ]);
  assert.deepEqual(searchCandidates('a.b.c.d.e.f', 'ns', 'cluster.local'), ['a.b.c.d.e.f']);
  assert.deepEqual(searchCandidates('x.example.', 'ns', 'cluster.local'), ['x.example']);
});

function facts(): PathFacts {
  return {
    source: { pod: 'client', ip: '10.244.1.3', node: 'node-1', mtu: 1450 },
    destination: { ip: '10.244.2.3', pod: 'echo-2', node: 'node-2', nodeIP: '172.31.2.2' },
    sourceHost: {
      node: 'node-1',
      route: { ok: true, dst: '10.244.2.3', gateway: '10.244.2.0', dev: 'pn-vxlan' },
      links: [
        {
          ifname: 'pn-vxlan',
          mtu: 1450,
          kind: 'vxlan',
          vxlan: { id: 1, port: 8472, local: '172.31.1.1' },
        },
      ],
      forwardAccepts: false,
      tunnel: { mac: 'aa:bb:cc:dd:ee:02', outerDst: '172.31.2.2' },
    },
    destinationHost: {
      node: 'node-2',
      route: { ok: true, dst: '10.244.2.3', dev: 'pn0123456789a' },
      links: [],
      forwardAccepts: false,
    },
  };
}

test('trace: a healthy cross-zone path names route, tunnel and delivery', () => {
  const hops = tracePath(facts());
  assert.deepEqual(
    hops.map((h) => [h.step, h.ok]),
    [
      ['route', true],
      ['encapsulation', true],
      ['delivery', true],
    ],
  );
  assert.match(hops[1]!.detail, /outer 172\.31\.1\.1 → 172\.31\.2\.2, MTU 1450/);
  assert.equal(verdict(hops).ok, true);
});

test('trace: each broken step is named', () => {
  const noFdb = facts();
  noFdb.sourceHost.tunnel = { mac: 'aa:bb:cc:dd:ee:02' };
  assert.match(verdict(tracePath(noFdb)).text, /BROKEN at encapsulation: .*no FDB entry/);
  const stray = facts();
  stray.sourceHost.route = { ok: true, gateway: '172.31.1.254', dev: 'eth0' };
  stray.sourceHost.links = [];
  assert.match(verdict(tracePath(stray)).text, /BROKEN at route: .*no podnet route/);
  const rp = facts();
  rp.destinationHost!.route = { ok: false, error: 'Invalid argument' };
  rp.destinationHost!.rpFilterStrict = true;
  assert.match(verdict(tracePath(rp)).text, /BROKEN at delivery: node-2: rp_filter drops/);
  const drop = facts();
  drop.sourceHost.forwardPolicy = 'DROP';
  assert.match(verdict(tracePath(drop)).text, /BROKEN at forward: node-1/);
  assert.match(
    serviceHop({
      name: 'ns/s',
      clusterIP: '10.96.0.5',
      port: 80,
      endpoints: [],
      ruleProgrammed: true,
      mode: 'iptables',
    }).detail,
    /no ready endpoints/,
  );
});
