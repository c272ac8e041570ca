// Two sessions talking over loopback TCP (ephemeral ports, no root): the FSM driven by real
// sockets, including a connection collision when both sides connect at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Session, type SessionConfig, type SessionEvents } from '../../src/bgp/session.js';
import type { DownReason } from '../../src/bgp/fsm.js';
import type { UpdateMessage } from '../../src/bgp/message.js';
import { encodeAnnouncements } from '../../src/bgp/update.js';
import { parseIpv4Key } from '../../src/bgp/prefix-key.js';
import { waitFor } from '../helpers/wait.js';

interface Probe extends SessionEvents {
  log: string[];
  downs: DownReason[];
  updates: UpdateMessage[];
}

function probe(): Probe {
  const p: Probe = {
    log: [],
    downs: [],
    updates: [],
    established: () => p.log.push('established'),
    down: (reason) => {
      p.log.push(`down:${reason}`);
      p.downs.push(reason);
    },
    update: (u) => p.updates.push(u),
    routeRefresh: () => p.log.push('refresh'),
  };
  return p;
}

async function listen(onSocket: (s: import('node:net').Socket) => void): Promise<Server> {
  const server = createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

const until = (what: string, cond: () => boolean, ms = 10000): Promise<true> =>
  waitFor(what, cond, ms, 20);

function config(over: Partial<SessionConfig>): SessionConfig {
  return {
    localAs: 64512,
    peerAs: 64512,
    bgpId: '10.0.0.1',
    holdTime: 9,
    connectRetryTime: 1,
    idleHoldTime: 1,
    passive: false,
    peerAddress: '127.0.0.1',
    peerPort: 0,
    ...over,
  };
}

async function pair(passiveB: boolean) {
  const ref: { a?: Session; b?: Session } = {};
  const sa = await listen((s) => ref.a!.acceptIncoming(s));
  const sb = await listen((s) => ref.b!.acceptIncoming(s));
  const pa = probe();
  const pb = probe();
  const a = (ref.a = new Session(
    config({ bgpId: '10.0.0.1', peerPort: (sb.address() as AddressInfo).port }),
    pa,
  ));
  const b = (ref.b = new Session(
    config({
      bgpId: '10.0.0.2',
      passive: passiveB,
      peerPort: (sa.address() as AddressInfo).port,
    }),
    pb,
  ));
  const close = () => {
    a.stop();
    b.stop();
    sa.close();
    sb.close();
  };
  return { a, b, pa, pb, close };
}

test('bgp session: two speakers that both connect settle on one session', async () => {
  const { a, b, pa, pb, close } = await pair(false);
  try {
    a.start();
    b.start();
    await until('Established', () => a.state === 'Established' && b.state === 'Established');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(pa.log, ['established']);
    assert.deepEqual(pb.log, ['established']);
    assert.equal(a.negotiated?.holdTime, 9);
    assert.equal(a.negotiated?.peerBgpId, '10.0.0.2');
    // UPDATEs flow on the surviving connection.
    const attrs = {
      origin: 0 as const,
      asPath: [],
      nextHop: '10.0.0.1',
      localPref: 100,
      unknown: [],
    };
    const prefix = parseIpv4Key('10.244.1.0/24');
    assert.ok(a.send(encodeAnnouncements(attrs, [prefix], { fourOctetAs: true })));
    await until('update', () => pb.updates.length === 1);
    assert.deepEqual(pb.updates[0]!.nlri, [prefix]);
  } finally {
    close();
  }
});

test('bgp session: a stop reaches the peer as a NOTIFICATION and the peer comes back', async () => {
  const { a, b, pb, close } = await pair(true);
  try {
    a.start();
    b.start();
    await until('Established', () => a.state === 'Established' && b.state === 'Established');
    a.stop();
    await until('peer down', () => pb.downs.length === 1);
    assert.deepEqual(pb.downs, ['notification-received']);
    a.start();
    await until('re-established', () => b.state === 'Established' && a.state === 'Established');
  } finally {
    close();
  }
});
