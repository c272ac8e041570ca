// Sessions only with those who belong, against real BIRD in namespaces: a speaker that is no
// configured peer gets no session and its connections are counted as refused.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { withBgpNet, until, type BgpNet } from '../helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../helpers/names.js';

before(() => {
  sweepStaleNamespaces();
});

const PODNET_AS = 64512;

/** BIRD in host i peering with podnet in host 0 (as BIRD's `password` when given). */
function birdConfig(net: BgpNet, i: number, password?: string): string {
  return `router id ${net.address(i)};
protocol device {}
protocol static { ipv4; route 10.250.${i}.0/24 blackhole; }
protocol bgp podnet {
  local ${net.address(i)} as 65000;
  neighbor ${net.address(0)} as ${PODNET_AS};
  hold time 9; connect retry time 1; connect delay time 1;
  ${password === undefined ? '' : `password "${password}";`}
  ipv4 { import all; export where source = RTS_STATIC; };
}
`;
}

const birdState = (bird: { ctl(...args: string[]): string }): string =>
  /podnet\s+BGP\s+\S+\s+\w+\s+\S+\s+(\w+)/.exec(bird.ctl('show', 'protocols', 'podnet'))?.[1] ??
  '?';

test('bgp secure: a speaker that is no peer gets no session; its connections are counted', () =>
  withBgpNet(3, async (net) => {
    const speaker = await net.speaker(0, {
      asNumber: PODNET_AS,
      bgpId: net.address(0),
      holdTime: 9,
      connectRetryTime: 1,
      idleHoldTime: 1,
      localPrefixes: ['10.244.1.0/24'],
      peers: [{ address: net.address(1), asNumber: 65000 }],
    });
    const peer = net.bird(1, birdConfig(net, 1));
    const stranger = net.bird(2, birdConfig(net, 2));
    await until('BIRD 1 Established', () => birdState(peer) === 'Established');
    await until('the stranger refused twice', async () => {
      const status = await speaker.status(false);
      return status.refusedConnections['unknown-peer'] >= 2;
    });
    assert.notEqual(birdState(stranger), 'Established');
    const { peers } = await speaker.status(false);
    assert.deepEqual(
      peers.map((p) => p.address),
      [net.address(1)],
      'no session object for the stranger',
    );
  }));
