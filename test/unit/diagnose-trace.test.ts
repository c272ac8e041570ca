import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDestination, parseFamily, searchCandidates } from '../../src/cli/trace.js';
import {
  serviceHop,
  tracePath,
  verdict,
  type Leg,
  type PathFacts,
} from '../../src/diagnose/trace.js';

test('trace: --family picks ipv4 or ipv6, and an address given must be of it', () => {
  assert.equal(parseFamily(undefined, 'my-svc'), undefined);
  assert.equal(parseFamily('ipv6', 'my-svc'), 6);
  assert.equal(parseFamily('IPv4', '10.96.0.20'), 4);
  assert.equal(parseFamily('ipv6', 'fd00:10:96::14'), 6);
  assert.throws(
    () => parseFamily('inet6', 'my-svc'),
    /^UsageError: --family inet6: give ipv4 or ipv6$/,
  );
  assert.throws(
    () => parseFamily('ipv6', '10.96.0.20'),
    /--family ipv6: 10\.96\.0\.20 is an IPv4 address/,
  );
});

test('trace: destinations parse with and without a port; a bad port is a usage error', () => {
  assert.deepEqual(parseDestination('my-svc'), { host: 'my-svc', port: undefined });
  assert.deepEqual(parseDestination('10.96.0.10:53'), { host: '10.96.0.10', port: 53 });
  assert.throws(() => parseDestination('my-svc:70000'), /optional :PORT \(1-65535\)/);
});

test('trace: an IPv6 destination is given bare, or in brackets with a port', () => {
  assert.deepEqual(parseDestination('fd00:10:96::14'), { host: 'fd00:10:96::14', port: undefined });
  assert.deepEqual(parseDestination('[fd00:10:96::14]:80'), { host: 'fd00:10:96::14', port: 80 });
  assert.deepEqual(parseDestination('[fd00:10:96::14]'), {
    host: 'fd00:10:96::14',
    port: undefined,
  });
  assert.throws(() => parseDestination('[my-svc]:80'), /\[IP\]:PORT/);
  assert.throws(() => parseDestination('[fd00::1]:0'), /\[IP\]:PORT/);
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

const vxlanLink = (local: string) => ({
  ifname: 'pn-vxlan',
  mtu: 1450,
  kind: 'vxlan',
  vxlan: { id: 1, port: 8472, local, link: 'eth0' },
});
const eth0 = (mtu = 1500) => ({ ifname: 'eth0', mtu });

const client = { ip: '10.244.1.3', pod: 'client', node: 'node-1', nodeIP: '172.31.1.1', mtu: 1450 };
const echo = { ip: '10.244.2.3', pod: 'echo-2', node: 'node-2', nodeIP: '172.31.2.2', mtu: 1450 };

/** One direction of a healthy VXLAN crossing, from `from`'s host to `to`'s pod. */
function crossing(
  direction: 'request' | 'reply',
  from: typeof client,
  to: typeof client,
  there: { gateway: string; vtepMac: string; veth: string },
): Leg {
  return {
    direction,
    from,
    to,
    out: {
      node: from.node,
      route: { ok: true, dst: to.ip, gateway: there.gateway, dev: 'pn-vxlan' },
      links: [eth0(), vxlanLink(from.nodeIP)],
      forwardAccepts: false,
      ipForward: true,
      tunnel: { mac: there.vtepMac, outerDst: to.nodeIP },
    },
    in: {
      node: to.node,
      route: { ok: true, dst: to.ip, dev: there.veth },
      links: [],
      forwardAccepts: false,
      ipForward: true,
    },
  };
}

/** A healthy cross-zone path over VXLAN, both ways. */
function facts(): PathFacts {
  return {
    clusterCIDR: '10.244.0.0/16',
    backend: 'auto',
    request: crossing('request', client, echo, {
      gateway: '10.244.2.0',
      vtepMac: 'aa:bb:cc:dd:ee:02',
      veth: 'pn0123456789a',
    }),
    reply: crossing('reply', echo, client, {
      gateway: '10.244.1.0',
      vtepMac: 'aa:bb:cc:dd:ee:01',
      veth: 'pn0123456789b',
    }),
  };
}

test('trace: a healthy cross-zone path names route, tunnel and delivery, there and back', () => {
  const hops = tracePath(facts());
  assert.deepEqual(
    hops.map((h) => [h.direction, h.step, h.ok]),
    [
      ['request', 'route', true],
      ['request', 'encapsulation', true],
      ['request', 'delivery', true],
      ['reply', 'route', true],
      ['reply', 'encapsulation', true],
      ['reply', 'delivery', true],
    ],
  );
  assert.match(hops[1]!.detail, /outer 172\.31\.1\.1 → 172\.31\.2\.2, MTU 1450/);
  assert.match(
    hops[5]!.detail,
    /node-1: 10\.244\.1\.3 dev pn0123456789b \(the pod's veth, client\)/,
  );
  assert.equal(verdict(hops).ok, true);
});

test('trace: each broken step is named, with its direction', () => {
  const noFdb = facts();
  noFdb.request.out.tunnel = { mac: 'aa:bb:cc:dd:ee:02' };
  assert.match(verdict(tracePath(noFdb)).text, /BROKEN at encapsulation: .*no FDB entry/);
  const stray = facts();
  stray.request.out.route = { ok: true, gateway: '172.31.1.254', dev: 'eth0' };
  assert.match(verdict(tracePath(stray)).text, /BROKEN at route: .*no podnet route/);
  const rp = facts();
  rp.request.in!.route = { ok: false, error: 'Invalid argument' };
  rp.request.in!.rpFilterStrict = true;
  assert.match(verdict(tracePath(rp)).text, /BROKEN at delivery: node-2: rp_filter drops/);
  const drop = facts();
  drop.request.out.forwardPolicy = 'DROP';
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

test('trace: a reply that falls to the default route breaks the path on the way back', () => {
  const f = facts();
  f.reply!.out.route = { ok: true, gateway: '172.31.2.254', dev: 'eth0' };
  assert.equal(
    verdict(tracePath(f)).text,
    "BROKEN at reply route: node-2: no podnet route back to 10.244.1.3 (node-1's subnet): it falls to via 172.31.2.254 dev eth0, not to 172.31.1.1",
  );
});

test('trace: ip_forward off on the receiving host is named as the sysctl', () => {
  const f = facts();
  f.request.in!.ipForward = false;
  f.request.in!.route = { ok: false, error: 'No route to host' };
  assert.match(
    verdict(tracePath(f)).text,
    /^BROKEN at forward: node-2: net\.ipv4\.ip_forward = 0: .*sysctl -w net\.ipv4\.ip_forward=1/,
  );
});

test('trace: an underlay MTU below the tunnel plus its headers is not OK', () => {
  const f = facts();
  f.request.out.links = [eth0(1400), vxlanLink('172.31.1.1')];
  assert.match(
    verdict(tracePath(f)).text,
    /BROKEN at encapsulation: node-1: pn-vxlan MTU 1450 plus 50 bytes of encapsulation exceeds eth0 MTU 1400/,
  );
  const direct = facts();
  direct.request.out.route = { ok: true, gateway: '172.31.2.2', dev: 'eth0' };
  direct.request.out.links = [eth0(1400)];
  assert.match(
    verdict(tracePath(direct)).text,
    /BROKEN at mtu: node-1: eth0 MTU 1400 is smaller than the pod's MTU 1450/,
  );
});

test('trace: an address in the cluster range that no node owns says so', () => {
  const f = facts();
  f.request.to = { ip: '10.244.99.5' };
  f.reply = undefined;
  assert.match(
    verdict(tracePath(f)).text,
    /BROKEN at route: 10\.244\.99\.5 is inside the cluster range 10\.244\.0\.0\/16, but no node owns/,
  );
});

test('trace: with BGP a route via a router is fine when podnet installed it, and says where from', () => {
  const f = facts();
  const origin = 'learned by BGP from 172.31.1.254 AS 65000, next hop router 172.31.1.254';
  f.request.out.route = { ok: true, gateway: '172.31.1.254', dev: 'eth0' };
  f.request.out.tunnel = undefined;
  f.request.out.podnetRoutes = [{ dst: '10.244.2.0/24', gateway: '172.31.1.254', dev: 'eth0' }];
  f.request.out.routeOrigin = origin;
  f.reply = undefined;
  const hops = tracePath(f);
  assert.equal(hops[0]!.detail, `node-1: 10.244.2.3 via 172.31.1.254 dev eth0 (${origin})`);
  assert.equal(verdict(hops).ok, true);
  f.request.out.podnetRoutes = [];
  assert.match(
    verdict(tracePath(f)).text,
    /BROKEN at route: node-1: no podnet route to 10\.244\.2\.3 .*, not a podnet route/,
  );
});

test('trace: a peer its backend cannot reach is given as the reason', () => {
  const f = facts();
  f.backend = 'host-gw';
  f.request.out.route = { ok: true, gateway: '172.31.1.254', dev: 'eth0' };
  f.request.out.tunnel = undefined;
  f.request.out.unreachable =
    "cannot route to node-2 (172.31.2.2 is not on-link (outside eth0's 172.31.1.1/24))";
  assert.match(
    verdict(tracePath(f)).text,
    /node-1's routing reports: cannot route to node-2 \(172\.31\.2\.2 is not on-link .*backend auto .* reaches them/,
  );
});

const client6 = { ...client, ip: 'fd00:10:244:1::3', nodeIP: 'fd00:172:31:1::1' };
const echo6 = { ...echo, ip: 'fd00:10:244:2::3', nodeIP: 'fd00:172:31:2::2' };

/** A healthy IPv6 path over host-gw: the next hop is the peer's IPv6 underlay address. */
function facts6(): PathFacts {
  const leg = (direction: 'request' | 'reply', from: typeof client6, to: typeof client6): Leg => ({
    direction,
    from,
    to,
    out: {
      node: from.node,
      route: { ok: true, dst: to.ip, gateway: to.nodeIP, dev: 'eth0' },
      links: [eth0()],
      forwardAccepts: false,
      ipForward: true,
    },
    in: {
      node: to.node,
      route: { ok: true, dst: to.ip, dev: 'pn0123456789a' },
      links: [],
      forwardAccepts: false,
      ipForward: true,
    },
  });
  return {
    clusterCIDR: 'fd00:10:244::/56',
    backend: 'host-gw',
    request: leg('request', client6, echo6),
    reply: leg('reply', echo6, client6),
  };
}

test('trace IPv6: a healthy path names the route via the peer’s IPv6 address and the delivery', () => {
  const hops = tracePath(facts6());
  assert.deepEqual(
    hops.map((h) => `${h.direction} ${h.step} ${h.ok}: ${h.detail}`),
    [
      'request route true: node-1: fd00:10:244:2::3 via fd00:172:31:2::2 dev eth0 (direct to node-2)',
      "request delivery true: node-2: fd00:10:244:2::3 dev pn0123456789a (the pod's veth, echo-2)",
      'reply route true: node-2: fd00:10:244:1::3 via fd00:172:31:1::1 dev eth0 (direct to node-1)',
      "reply delivery true: node-1: fd00:10:244:1::3 dev pn0123456789a (the pod's veth, client)",
    ],
  );
  assert.equal(verdict(hops).ok, true);
});

test('trace IPv6: forwarding off names the IPv6 sysctl, a DROP policy ip6tables', () => {
  const off = facts6();
  off.request.in!.ipForward = false;
  assert.match(
    verdict(tracePath(off)).text,
    /^BROKEN at forward: node-2: net\.ipv6\.conf\.all\.forwarding = 0: .*sysctl -w net\.ipv6\.conf\.all\.forwarding=1/,
  );
  const drop = facts6();
  drop.request.out.forwardPolicy = 'DROP';
  assert.match(
    verdict(tracePath(drop)).text,
    /^BROKEN at forward: node-1: ip6tables FORWARD policy/,
  );
});

test('trace IPv6: a stray gateway, a podnet host route and an unowned address are told apart', () => {
  const stray = facts6();
  stray.request.out.route = { ok: true, gateway: 'fd00:172:31:1::fe', dev: 'eth0' };
  assert.match(
    verdict(tracePath(stray)).text,
    /no podnet route to fd00:10:244:2::3 \(node-2's subnet\): it falls to via fd00:172:31:1::fe dev eth0, not to fd00:172:31:2::2/,
  );
  // `ip route` prints a host route without its length: it still covers the address.
  const host = facts6();
  host.request.out.podnetRoutes = [
    { dst: 'fd00:10:244:2::3', gateway: 'fd00:172:31:2::2', dev: 'eth0' },
  ];
  assert.equal(verdict(tracePath(host)).ok, true);
  const unowned = facts6();
  unowned.request.to = { ip: 'fd00:10:244:99::5' };
  unowned.reply = undefined;
  assert.match(
    verdict(tracePath(unowned)).text,
    /inside the cluster range fd00:10:244::\/56, but no node owns/,
  );
});

test('trace IPv6: a service hop writes IPv6 addresses in brackets before their ports', () => {
  const hop = serviceHop({
    name: 'default/web',
    clusterIP: 'fd00:10:96::14',
    port: 80,
    endpoints: [
      { pod: 'echo-1', ip: 'fd00:10:244:1::3', port: 8080 },
      { pod: 'echo-2', ip: 'fd00:10:244:2::3', port: 8080 },
    ],
    ruleProgrammed: true,
    mode: 'nftables',
  });
  assert.equal(
    hop.detail,
    'default/web [fd00:10:96::14]:80 → DNAT at random (nftables) to echo-1 [fd00:10:244:1::3]:8080 (50.0 %), echo-2 [fd00:10:244:2::3]:8080 (50.0 %)',
  );
});
