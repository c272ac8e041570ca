import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  fabricLayout,
  fabricPeers,
  fabricProblem,
  fabricSpec,
  validateFabric,
} from '../../src/lab/fabric.js';
import { clusterNetworkFor } from '../../src/lab/cluster.js';
import { DEFAULT_LAB_OPTIONS, planLab, type Fabric } from '../../src/lab/plan.js';
import { UsageError } from '../../src/util/errors.js';

const options = (fabric: Fabric) => ({ ...DEFAULT_LAB_OPTIONS, routing: 'bgp' as const, fabric });

test('lab fabric: a fabric needs --routing bgp, none always goes', () => {
  assert.equal(fabricProblem({ fabric: 'none', routing: 'store' }), undefined);
  assert.equal(fabricProblem({ fabric: 'bird', routing: 'bgp' }), undefined);
  assert.equal(fabricProblem({ fabric: 'frr', routing: 'bgp' }), undefined);
  assert.match(
    fabricProblem({ fabric: 'frr', routing: 'store' })!,
    /^--fabric frr: .*--routing bgp/,
  );
  assert.throws(() => validateFabric({ fabric: 'bird', routing: 'store' }), UsageError);
});

test('lab fabric: one BGPPeer per zone (its router, AS 65000) and no node mesh', () => {
  const plan = planLab('/l', 'x', options('bird'));
  assert.deepEqual(
    fabricPeers(plan).map((p) => [p.metadata.name, p.spec]),
    [
      [
        'fabric-zone-1',
        {
          peerIP: '172.31.1.254',
          asNumber: 65000,
          nodeSelector: { 'topology.kubernetes.io/zone': 'zone-1' },
        },
      ],
      [
        'fabric-zone-2',
        {
          peerIP: '172.31.2.254',
          asNumber: 65000,
          nodeSelector: { 'topology.kubernetes.io/zone': 'zone-2' },
        },
      ],
    ],
  );
  assert.deepEqual(clusterNetworkFor(plan.options).spec.bgp, { nodeToNodeMesh: false });
  const none = planLab('/l', 'x', { ...DEFAULT_LAB_OPTIONS, routing: 'bgp' });
  assert.deepEqual(fabricPeers(none), []);
  assert.equal(clusterNetworkFor(none.options).spec.bgp, undefined);
});

test('lab fabric: the router peers every host from its zone router address', () => {
  const spec = fabricSpec(planLab('/l', 'x', options('bird')));
  assert.equal(spec.routerId, '172.31.1.254');
  assert.equal(spec.routerAs, 65000);
  assert.equal(spec.clusterAs, 64512);
  assert.deepEqual(spec.hosts, [
    { name: 'node-1', address: '172.31.1.1', routerAddress: '172.31.1.254' },
    { name: 'node-2', address: '172.31.2.2', routerAddress: '172.31.2.254' },
    { name: 'node-3', address: '172.31.1.3', routerAddress: '172.31.1.254' },
  ]);
});

test('lab fabric: on an IPv6-only lab hosts peer with their zone router over IPv6', () => {
  const plan = planLab('/l', 'x', { ...options('frr'), ipFamily: 'ipv6' });
  assert.deepEqual(
    fabricPeers(plan).map((p) => p.spec.peerIP),
    ['fd00:172:31:1::fe', 'fd00:172:31:2::fe'],
  );
  const spec = fabricSpec(plan);
  assert.equal(spec.ipv6Only, true);
  // The router's identifier is still its IPv4 underlay address: BGP ids are 32 bits.
  assert.equal(spec.routerId, '172.31.1.254');
  assert.deepEqual(spec.hosts[1]!.ipv6, {
    address: 'fd00:172:31:2::2',
    routerAddress: 'fd00:172:31:2::fe',
  });
  assert.equal(fabricSpec(planLab('/l', 'x', options('frr'))).ipv6Only, undefined);
});

test('lab fabric: BIRD runs in the foreground with its socket and pid under the lab directory', () => {
  const layout = fabricLayout(planLab('/l', 'x', options('bird')))!;
  assert.equal(layout.dir, '/l/x/fabric');
  assert.deepEqual(
    layout.files.map((f) => f.path),
    ['/l/x/fabric/bird.conf'],
  );
  assert.match(layout.files[0]!.text, /neighbor 172\.31\.2\.2 as 64512;/);
  assert.deepEqual(layout.daemons, [
    {
      id: 'fabric-bird',
      argv: [
        'bird',
        '-f',
        '-c',
        '/l/x/fabric/bird.conf',
        '-s',
        '/l/x/fabric/bird.ctl',
        '-P',
        '/l/x/fabric/bird.pid',
      ],
      readyFile: '/l/x/fabric/bird.ctl',
    },
  ]);
  assert.equal(layout.ownedByFrr, false);
});

test('lab fabric: FRR starts zebra (as frr) before bgpd, both on one zserv socket', () => {
  const layout = fabricLayout(planLab('/l', 'x', options('frr')))!;
  assert.deepEqual(
    layout.daemons.map((d) => d.id),
    ['fabric-zebra', 'fabric-bgpd'],
  );
  const [zebra, bgpd] = layout.daemons;
  assert.deepEqual(zebra!.argv.slice(-4), ['-u', 'frr', '-g', 'frr']);
  for (const d of [zebra!, bgpd!]) {
    assert.equal(d.argv[d.argv.indexOf('-z') + 1], '/l/x/fabric/zserv.api');
    assert.equal(d.argv[d.argv.indexOf('--vty_socket') + 1], '/l/x/fabric');
  }
  assert.match(layout.files.find((f) => f.path.endsWith('bgpd.conf'))!.text, /as-override/);
  assert.equal(layout.ownedByFrr, true);
  assert.equal(fabricLayout(planLab('/l', 'x', options('none'))), undefined);
});
