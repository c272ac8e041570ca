// podnet's speaker against real routers in namespaces: BIRD 2 and GoBGP. Sessions reach
// Established, routes flow both ways, and each router's own view shows podnet's prefix with
// the right next hop. FRR as well.
import { test, before } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { withBgpNet, until, type BgpNet } from '../helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../helpers/names.js';

before(() => {
  sweepStaleNamespaces();
});

const PODNET_AS = 64512;

function podnetConfig(net: BgpNet, peers: { i: number; as: number }[]) {
  return {
    asNumber: PODNET_AS,
    bgpId: net.address(0),
    holdTime: 9,
    connectRetryTime: 1,
    idleHoldTime: 1,
    gracefulRestartTime: 30,
    localPrefixes: ['10.244.1.0/24'],
    peers: peers.map((p) => ({ address: net.address(p.i), asNumber: p.as })),
  };
}

test('bgp peers: podnet ↔ BIRD (eBGP): Established, routes both ways, BIRD sees our next hop', () =>
  withBgpNet(2, async (net) => {
    const bird = net.bird(
      1,
      `router id ${net.address(1)};
protocol device {}
protocol kernel { ipv4 { import none; export all; }; }
protocol static { ipv4; route 10.250.0.0/24 blackhole; route 10.250.1.0/24 blackhole; }
protocol bgp podnet {
  local ${net.address(1)} as 65000;
  neighbor ${net.address(0)} as ${PODNET_AS};
  hold time 9; connect retry time 1; graceful restart on;
  ipv4 { import all; export where source = RTS_STATIC; };
}
`,
    );
    const speaker = await net.speaker(0, podnetConfig(net, [{ i: 1, as: 65000 }]));
    await until('podnet learns BIRD routes', async () => {
      const l = await speaker.learned();
      return l['10.250.0.0/24'] === net.address(1) && l['10.250.1.0/24'] === net.address(1);
    });
    const [peer] = (await speaker.status()).peers;
    assert.equal(peer!.state, 'Established');
    assert.equal(peer!.kind, 'ebgp');
    assert.equal(peer!.prefixesReceived, 2);
    assert.equal(peer!.prefixesAdvertised, 1);
    // BIRD's own view: our prefix, learnt over BGP, via our address, AS path 64512.
    const view = await until('BIRD has 10.244.1.0/24', () => {
      const out = bird.ctl('show', 'route', 'for', '10.244.1.0/24', 'all');
      return out.includes('10.244.1.0/24') && out;
    });
    assert.match(view, new RegExp(`via ${net.address(0).replace(/\./g, '\\.')}`));
    assert.match(view, /BGP\.as_path: 64512\b/);
    assert.match(view, /unicast \[podnet /);
    // And BIRD put it in its namespace's kernel table.
    await until('kernel route in BIRD namespace', () =>
      /10\.244\.1\.0\/24 via 172\.30\.0\.1 .*proto bird/.test(
        execFileSync('ip', ['-n', net.hosts[1]!, 'route', 'show'], { encoding: 'utf8' }),
      ),
    );
  }));

test('bgp peers: podnet ↔ GoBGP (eBGP): Established, routes both ways, GoBGP sees our next hop', () =>
  withBgpNet(2, async (net) => {
    const gobgp = net.gobgp(
      1,
      `[global.config]
  as = 65001
  router-id = "${net.address(1)}"
  port = 179
[[neighbors]]
  [neighbors.config]
    neighbor-address = "${net.address(0)}"
    peer-as = ${PODNET_AS}
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 1
`,
    );
    const speaker = await net.speaker(0, podnetConfig(net, [{ i: 1, as: 65001 }]));
    await until(
      'gobgp API up',
      () => gobgp.cli('global', 'rib', 'add', '10.251.0.0/24', '-a', 'ipv4') !== undefined,
    );
    await until(
      'podnet learns GoBGP route',
      async () => (await speaker.learned())['10.251.0.0/24'] === net.address(1),
    );
    const [peer] = (await speaker.status()).peers;
    assert.equal(peer!.state, 'Established');
    const rib = await until('GoBGP has 10.244.1.0/24', () => {
      const json = JSON.parse(gobgp.cli('global', 'rib', '-a', 'ipv4', '-j')) as Record<
        string,
        { attrs: { type: number; nexthop?: string; as_paths?: { asns: number[] }[] }[] }[]
      >;
      return json['10.244.1.0/24'] && json;
    });
    const attrs = rib['10.244.1.0/24']![0]!.attrs;
    assert.equal(attrs.find((a) => a.type === 3)?.nexthop, net.address(0));
    assert.deepEqual(attrs.find((a) => a.type === 2)?.as_paths?.[0]?.asns, [PODNET_AS]);
    // A withdrawal on the GoBGP side reaches podnet.
    gobgp.cli('global', 'rib', 'del', '10.251.0.0/24', '-a', 'ipv4');
    await until('withdrawn in podnet', async () => !('10.251.0.0/24' in (await speaker.learned())));
  }));

test('bgp peers: podnet ↔ FRR (eBGP): Established, routes both ways, FRR sees our next hop', () =>
  withBgpNet(2, async (net) => {
    const frr = await net.frr(
      1,
      `router bgp 65002
 bgp router-id ${net.address(1)}
 no bgp ebgp-requires-policy
 neighbor ${net.address(0)} remote-as ${PODNET_AS}
 neighbor ${net.address(0)} timers 3 9
 neighbor ${net.address(0)} timers connect 1
 address-family ipv4 unicast
  network 10.252.0.0/24
 exit-address-family
`,
    );
    const speaker = await net.speaker(0, podnetConfig(net, [{ i: 1, as: 65002 }]));
    await until(
      'podnet learns the FRR route',
      async () => (await speaker.learned())['10.252.0.0/24'] === net.address(1),
    );
    assert.equal((await speaker.status()).peers[0]!.state, 'Established');
    const route = await until('FRR has 10.244.1.0/24', () => {
      const json = JSON.parse(frr.vtysh('show bgp ipv4 unicast 10.244.1.0/24 json')) as {
        paths?: { valid?: boolean; aspath?: { string: string }; nexthops: { ip: string }[] }[];
      };
      return json.paths?.[0];
    });
    assert.equal(route.valid, true);
    assert.equal(route.nexthops[0]!.ip, net.address(0));
    assert.equal(route.aspath?.string, String(PODNET_AS));
  }));
