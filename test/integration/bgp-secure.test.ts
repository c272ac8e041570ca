// Sessions only with those who belong, against real BIRD in namespaces: a speaker that is no
// configured peer gets no session and its connections are counted as refused; with TCP-MD5
// (RFC 2385, through the podnet-bgp-md5 helper) BIRD with the right `password` is Established
// both when it connects and when podnet does, BIRD with a wrong key gets nothing.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withBgpNet, until, type BgpNet } from '../helpers/bgp-net.js';
import { sweepStaleNamespaces } from '../helpers/names.js';

before(() => {
  sweepStaleNamespaces();
});

const PODNET_AS = 64512;

/** BIRD in host i peering with podnet in host 0 (as BIRD's `password` when given). */
function birdConfig(net: BgpNet, i: number, password?: string, passive = false): string {
  return `router id ${net.address(i)};
protocol device {}
protocol static { ipv4; route 10.250.${i}.0/24 blackhole; }
protocol bgp podnet {
  local ${net.address(i)} as 65000;
  neighbor ${net.address(0)} as ${PODNET_AS};
  hold time 9; connect retry time 1; connect delay time 1;
  ${password === undefined ? '' : `password "${password}";`} ${passive ? 'passive on;' : ''}
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

test('bgp secure: TCP-MD5 sessions with the right key only, whichever side connects', () =>
  withBgpNet(5, async (net) => {
    const key = (name: string, text: string): string => {
      const file = join(net.dir, name);
      writeFileSync(file, `${text}\n`, { mode: 0o600 });
      return file;
    };
    const speaker = await net.speaker(0, {
      asNumber: PODNET_AS,
      bgpId: net.address(0),
      listenAddress: net.address(0),
      holdTime: 9,
      connectRetryTime: 1,
      idleHoldTime: 1,
      localPrefixes: ['10.244.1.0/24'],
      peers: [
        { address: net.address(1), asNumber: 65000, passwordFile: key('k1', 'right key 1') },
        { address: net.address(2), asNumber: 65000, passwordFile: key('k2', 'right key 2') },
        { address: net.address(4), asNumber: 65000, passwordFile: key('k4', 'right key 4') },
      ],
    });
    const right = net.bird(1, birdConfig(net, 1, 'right key 1'));
    const wrong = net.bird(2, birdConfig(net, 2, 'a wrong key'));
    const stranger = net.bird(3, birdConfig(net, 3));
    const dialed = net.bird(4, birdConfig(net, 4, 'right key 4', true));
    await until('BIRD with the right key Established', () => birdState(right) === 'Established');
    await until('podnet dials the passive BIRD', () => birdState(dialed) === 'Established');
    await until('podnet learns both', async () => {
      const l = await speaker.learned();
      return l['10.250.1.0/24'] === net.address(1) && l['10.250.4.0/24'] === net.address(4);
    });
    await until('the stranger refused through the relay', async () => {
      const status = await speaker.status(false);
      return status.refusedConnections['unknown-peer'] >= 1;
    });
    // A few more connect-retry rounds for the wrong key to have had its chances.
    await new Promise((r) => setTimeout(r, 4000));
    assert.notEqual(birdState(wrong), 'Established');
    assert.notEqual(birdState(stranger), 'Established');
    const status = await speaker.status(false);
    const state = Object.fromEntries(status.peers.map((p) => [p.address, p.state]));
    assert.equal(state[net.address(1)], 'Established');
    assert.equal(state[net.address(4)], 'Established');
    assert.notEqual(state[net.address(2)], 'Established');
    assert.equal(status.peers[1]!.messagesIn, 0, 'nothing from the wrong key reached the speaker');
    for (const text of [JSON.stringify(status), speaker.output()]) {
      assert.doesNotMatch(text, /right key/, 'keys are never shown');
    }
  }));
