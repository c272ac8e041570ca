// Speakers in one process, each on its own loopback address (127.0.0.x, ephemeral ports, no
// root): full mesh, route reflection and graceful restart end to end through real TCP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Speaker, type SpeakerConfig } from '../../src/bgp/speaker.js';
import { waitFor } from '../helpers/wait.js';

const BASE = 100 + (process.pid % 100);

async function speakers(n: number, over: (i: number) => Partial<SpeakerConfig> = () => ({})) {
  const list: Speaker[] = [];
  for (let i = 0; i < n; i++) {
    const s = new Speaker({
      asNumber: 64512,
      bgpId: `10.0.0.${i + 1}`,
      listenAddress: addr(i),
      listenPort: 0,
      holdTime: 6,
      connectRetryTime: 1,
      idleHoldTime: 1,
      ...over(i),
    });
    await s.listen();
    list.push(s);
  }
  return list;
}

function addr(i: number): string {
  return `127.${BASE}.0.${i + 1}`;
}

function peerOf(list: Speaker[], j: number, extra = {}) {
  return { address: addr(j), asNumber: 64512, port: list[j]!.boundPort()!, ...extra };
}

/** Peers i with each j in `others`; the source address is i's loopback address. */
function connect(
  list: Speaker[],
  i: number,
  others: number[],
  extra: (j: number) => object = () => ({}),
) {
  list[i]!.setPeers(others.map((j) => ({ ...peerOf(list, j, extra(j)), localAddress: addr(i) })));
}

const until = (what: string, cond: () => boolean, ms = 15000): Promise<true> =>
  waitFor(what, cond, ms, 25);

const podCIDR = (i: number) => `10.244.${i}.0/24`;

function learned(s: Speaker): Record<string, string> {
  return Object.fromEntries([...s.learnedRoutes()].map(([p, r]) => [p, r.nextHop]));
}

test('bgp speaker: full iBGP mesh of 3, each learns the others with their next hop', async () => {
  const list = await speakers(3);
  try {
    for (let i = 0; i < 3; i++) {
      connect(
        list,
        i,
        [0, 1, 2].filter((j) => j !== i),
      );
      list[i]!.setLocalPrefixes([podCIDR(i)]);
    }
    const want = (i: number) =>
      Object.fromEntries([0, 1, 2].filter((j) => j !== i).map((j) => [podCIDR(j), addr(j)]));
    await until('mesh converged', () =>
      [0, 1, 2].every((i) => JSON.stringify(learned(list[i]!)) === JSON.stringify(want(i))),
    );
    const st = list[0]!.status();
    assert.deepEqual(
      st.map((p) => p.state),
      ['Established', 'Established'],
    );
    assert.deepEqual(
      st.map((p) => [p.prefixesReceived, p.prefixesAdvertised]),
      [
        [1, 1],
        [1, 1],
      ],
    );
    // iBGP-learned routes are not passed on, so a withdrawal is seen by all at once.
    list[2]!.setLocalPrefixes([]);
    await until(
      'withdrawn',
      () => !(podCIDR(2) in learned(list[0]!)) && !(podCIDR(2) in learned(list[1]!)),
    );
  } finally {
    for (const s of list) await s.stop();
  }
});

test('bgp speaker: one route reflector, three clients, no mesh: all routes everywhere', async () => {
  const list = await speakers(4, (i) => (i === 0 ? { routeReflector: true } : {}));
  try {
    connect(list, 0, [1, 2, 3], () => ({ rrClient: true }));
    for (let i = 1; i < 4; i++) connect(list, i, [0]);
    for (let i = 0; i < 4; i++) list[i]!.setLocalPrefixes([podCIDR(i)]);
    await until('reflected', () =>
      list.every((s, i) => Object.keys(learned(s)).length === 3 && !(podCIDR(i) in learned(s))),
    );
    // Client 1 learns client 2's subnet through the reflector with client 2 as next hop and
    // the reflection attributes set.
    const r = list[1]!.learnedRoutes().get(podCIDR(2))!;
    assert.equal(r.nextHop, addr(2));
    assert.equal(r.path.attrs.originatorId, '10.0.0.3');
    assert.deepEqual(r.path.attrs.clusterList, ['10.0.0.1']);
    assert.equal(r.path.source.key, addr(0));
  } finally {
    for (const s of list) await s.stop();
  }
});

test("bgp speaker: graceful restart keeps a peer's routes while it is away, then refreshes", async () => {
  const list = await speakers(2, () => ({ gracefulRestartTime: 30 }));
  try {
    connect(list, 0, [1]);
    connect(list, 1, [0]);
    list[1]!.setLocalPrefixes([podCIDR(1), '10.245.0.0/16']);
    await until('learned', () => Object.keys(learned(list[0]!)).length === 2);
    // Speaker 1 vanishes without a NOTIFICATION (as when its process is killed).
    const port = list[1]!.boundPort()!;
    await list[1]!.stop({ restarting: true });
    await until('peer down', () => list[0]!.status()[0]!.state !== 'Established');
    assert.deepEqual(Object.keys(learned(list[0]!)).sort(), ['10.244.1.0/24', '10.245.0.0/16']);
    assert.equal(list[0]!.status()[0]!.stalePrefixes, 2);
    // It comes back (same address and port) with one prefix fewer: End-of-RIB sweeps the other.
    const again = new Speaker({ ...list[1]!.config, listenPort: port, restarting: true });
    await again.listen();
    list[1] = again;
    connect(list, 1, [0]);
    again.setLocalPrefixes([podCIDR(1)]);
    await until(
      'stale swept',
      () => JSON.stringify(Object.keys(learned(list[0]!))) === JSON.stringify([podCIDR(1)]),
    );
    assert.equal(list[0]!.status()[0]!.stalePrefixes, 0);
  } finally {
    for (const s of list) await s.stop();
  }
});

test('bgp speaker: a connection from an address that is no peer is closed unread and counted', async () => {
  const [a, b] = await speakers(2);
  try {
    connect([a!, b!], 0, [1]);
    // From a third address: the connection is closed before anything it sends is read.
    const { connect: tcp } = await import('node:net');
    const closed = await new Promise<boolean>((resolve) => {
      const socket = tcp({ host: addr(0), port: a!.boundPort()!, localAddress: addr(2) });
      socket.on('connect', () => socket.write(Buffer.alloc(19, 0xff)));
      socket.on('error', () => resolve(true));
      socket.on('close', () => resolve(true));
      socket.on('data', () => resolve(false));
    });
    assert.ok(closed);
    await until('counted', () => a!.refusedConnections()['unknown-peer'] === 1);
    assert.equal(a!.status()[0]!.messagesIn, 0, 'the peer session saw nothing of it');
  } finally {
    await Promise.all([a!.stop(), b!.stop()]);
  }
});

const podCIDR6 = (i: number) => `fd00:10:244:${i + 1}::/64`;
const hop6 = (i: number) => `fd00:172:31:1::${i + 1}`;

test('bgp speaker: IPv6 unicast beside IPv4 over the same sessions, through a reflector; a peer without it gets none', async () => {
  // 0 reflects; 1 and 2 speak both families; 3 offers IPv4 unicast only.
  const list = await speakers(4, (i) => ({
    ...(i === 0 ? { routeReflector: true } : {}),
    ...(i < 3 ? { ipv6Unicast: true, ipv6NextHop: hop6(i) } : {}),
  }));
  try {
    connect(list, 0, [1, 2, 3], () => ({ rrClient: true }));
    for (let i = 1; i < 4; i++) connect(list, i, [0]);
    for (let i = 0; i < 4; i++) list[i]!.setLocalPrefixes([podCIDR(i), podCIDR6(i)]);
    // Reflected IPv6 routes keep their origin's next hop, as IPv4 ones do.
    const want = (i: number) =>
      Object.fromEntries(
        [0, 1, 2, 3]
          .filter((j) => j !== i)
          .flatMap((j) => [
            [podCIDR(j), addr(j)],
            ...(i < 3 && j < 3 ? [[podCIDR6(j), hop6(j)]] : []),
          ])
          .sort(([a], [b]) => (a! < b! ? -1 : 1)),
      );
    const sorted = (s: Speaker) =>
      Object.fromEntries(Object.entries(learned(s)).sort(([a], [b]) => (a < b ? -1 : 1)));
    await until('both families everywhere they are spoken', () =>
      [0, 1, 2, 3].every((i) => JSON.stringify(sorted(list[i]!)) === JSON.stringify(want(i))),
    );
    // Speaker 3 never offered IPv6: it holds no IPv6 route, and its own IPv6 prefix goes nowhere.
    assert.equal(list[3]!.rib6.locRib().size, 1);
    assert.equal(list[1]!.rib6.count(addr(0)), 2);
    const toOne = list[0]!.status().find((p) => p.address === addr(1))!;
    // Told 0, 2 and 3 over IPv4 and 0 and 2 over IPv6; it sent its own of each family.
    assert.deepEqual([toOne.prefixesReceived, toOne.prefixesAdvertised], [2, 5]);

    // An IPv6 withdrawal reaches the clients; IPv4 stays.
    list[2]!.setLocalPrefixes([podCIDR(2)]);
    await until('IPv6 withdrawn', () => !(podCIDR6(2) in learned(list[1]!)));
    assert.equal(learned(list[1]!)[podCIDR(2)], addr(2));
  } finally {
    for (const s of list) await s.stop();
  }
});

test('bgp speaker: a session over IPv6 carries IPv6 alone, its next hop the session address where none is set', async () => {
  const make = async (bgpId: string, ipv6NextHop?: string) => {
    const s = new Speaker({
      asNumber: 64512,
      bgpId,
      listenAddress: '::1',
      listenPort: 0,
      holdTime: 6,
      connectRetryTime: 1,
      idleHoldTime: 1,
      gracefulRestartTime: 120,
      ipv6Unicast: true,
      ...(ipv6NextHop ? { ipv6NextHop } : {}),
    });
    await s.listen();
    return s;
  };
  const [a, b] = [await make('10.0.0.1'), await make('10.0.0.2', 'fd00:172:31:1::2')];
  try {
    a.setPeers([{ address: '::1', asNumber: 64512, port: b.boundPort()!, localAddress: '::1' }]);
    b.setPeers([{ address: '::1', asNumber: 64512, port: a.boundPort()!, passive: true }]);
    a.setLocalPrefixes(['10.244.1.0/24', podCIDR6(1)]);
    b.setLocalPrefixes(['10.244.2.0/24', podCIDR6(2)]);
    await until(
      'each to learn the other’s IPv6 subnet',
      () => podCIDR6(2) in learned(a) && podCIDR6(1) in learned(b),
    );
    assert.deepEqual(learned(a), { [podCIDR6(2)]: 'fd00:172:31:1::2' });
    // a has no IPv6 next hop configured: its end of the session is the next hop it gives.
    assert.deepEqual(learned(b), { [podCIDR6(1)]: '::1' });
    // No IPv4 route crossed the IPv6 session, and the IPv6 End-of-RIB alone completes the table.
    assert.equal(a.rib.count('::1'), 0);
    await until(
      'both initial tables complete',
      () => a.initialTableComplete() && b.initialTableComplete(),
    );
  } finally {
    await a.stop();
    await b.stop();
  }
});
