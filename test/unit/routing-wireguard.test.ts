import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANNOTATION_WIREGUARD_KEY, type Node } from '../../src/api/types.js';
import type { ActualState, WireguardLink } from '../../src/kernel/netobjects.js';
import { renderCommands } from '../../src/kernel/routing-render.js';
import { parseWireguardDump } from '../../src/kernel/wireguard-dump.js';
import { backendDriver } from '../../src/routing/backends/registry.js';
import { WIREGUARD_DEVICE } from '../../src/routing/backends/wireguard.js';
import type { BackendInput, WireguardSelf } from '../../src/routing/desired.js';
import { diffState } from '../../src/routing/diff.js';
import { stateAfter } from '../../src/routing/expected.js';
import { podMTU } from '../../src/routing/mtu.js';
import { isWireguardKey, splitHosts } from '../../src/routing/peers.js';
import { desiredFor } from '../../src/routing/reconcile.js';
import { diffWireguard } from '../../src/routing/wireguard-diff.js';
import { makeNode } from '../helpers/routing-nodes.js';

const KEY = (c: string): string => `${c.repeat(43)}=`.replace(/.=$/, 'A=');
const keys = { 'node-1': KEY('a'), 'node-2': KEY('b'), 'node-3': KEY('c') };
const self: WireguardSelf = {
  publicKey: keys['node-1'],
  privateKeyFile: '/var/lib/podnet/wireguard-private-key',
  userspace: true,
};
const underlay = { dev: 'eth0', address: '172.31.1.1', prefixLength: 24, mtu: 1500 };

function withKey(node: Node, key: string | undefined): Node {
  if (key)
    node.metadata.annotations = { ...node.metadata.annotations, [ANNOTATION_WIREGUARD_KEY]: key };
  return node;
}

function nodes(over: Partial<Record<string, string | undefined>> = {}): Node[] {
  const k = { ...keys, ...over };
  return [
    withKey(
      makeNode('node-1', '10.244.1.0/24', '172.31.1.1', { mac: '02:00:00:00:00:01' }),
      k['node-1'],
    ),
    withKey(
      makeNode('node-2', '10.244.2.0/24', '172.31.1.2', { mac: '02:00:00:00:00:02' }),
      k['node-2'],
    ),
    withKey(
      makeNode('node-3', '10.244.3.0/24', '172.31.2.1', { mac: '02:00:00:00:00:03' }),
      k['node-3'],
    ),
  ];
}

function input(list = nodes(), wg: WireguardSelf | undefined = self): BackendInput {
  const { self: me, peers } = splitHosts(list, 'node-1');
  return { self: me!, peers, underlay, vtepMac: '02:00:00:00:00:01', wireguard: wg };
}

function device(state: { links: readonly { kind: string }[] }): WireguardLink {
  const link = state.links.find((l) => l.kind === 'wireguard');
  assert.ok(link, 'a WireGuard device is wanted');
  return link as WireguardLink;
}

const empty: ActualState = { routes: [], links: [], neighbours: [], fdb: [], sysctls: {} };

test('wireguard: one device, one peer per other host (node address, pod subnet), routes through it', () => {
  const state = backendDriver('wireguard').desired(input());
  const wg = device(state);
  assert.equal(wg.name, WIREGUARD_DEVICE);
  assert.equal(wg.mtu, 1440, 'IPv4 underlay: 60 bytes of WireGuard');
  assert.equal(wg.listenPort, 51820);
  assert.deepEqual(wg.addresses, ['10.244.1.0/32']);
  assert.deepEqual(wg.peers, [
    { publicKey: keys['node-2'], endpoint: '172.31.1.2:51820', allowedIPs: ['10.244.2.0/24'] },
    { publicKey: keys['node-3'], endpoint: '172.31.2.1:51820', allowedIPs: ['10.244.3.0/24'] },
  ]);
  assert.deepEqual(state.routes, [
    { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'pn-wg', onlink: true },
    { dst: '10.244.3.0/24', gateway: '10.244.3.0', dev: 'pn-wg', onlink: true },
  ]);
  assert.deepEqual(state.problems, []);
});

test('wireguard: an IPv6 underlay costs 80 bytes and brackets the endpoint', () => {
  const list = [
    withKey(makeNode('node-1', '10.244.1.0/24', 'fd00::1'), keys['node-1']),
    withKey(makeNode('node-2', '10.244.2.0/24', 'fd00::2'), keys['node-2']),
  ];
  const state = backendDriver('wireguard').desired({
    ...input(list),
    underlay: { ...underlay, address: 'fd00::1', prefixLength: 64 },
  });
  assert.equal(device(state).mtu, 1420);
  assert.equal(device(state).peers[0]?.endpoint, '[fd00::2]:51820');
});

test('wireguard: a peer without a published key, or a node without its own, is named, never sent in the clear', () => {
  const state = backendDriver('wireguard').desired(input(nodes({ 'node-3': undefined })));
  assert.deepEqual(state.problems, [
    { peer: 'node-3', reason: 'has not published its WireGuard key yet' },
  ]);
  assert.deepEqual(
    state.routes.map((r) => r.dst),
    ['10.244.2.0/24'],
  );
  const keyless = backendDriver('wireguard').desired({ ...input(), wireguard: undefined });
  assert.equal(keyless.links.length, 0);
  assert.equal(keyless.routes.length, 0);
  assert.equal(keyless.problems.length, 2);
  assert.equal(isWireguardKey('not a key'), false);
  assert.equal(isWireguardKey(keys['node-2']), true);
});

test('wireguard: encryption over auto sends every peer, on-link or not, through pn-wg and keeps the VXLAN device', () => {
  const plain = desiredFor(backendDriver('auto'), undefined, input());
  assert.ok(plain.routes.some((r) => r.dev === 'eth0'));
  const state = desiredFor(backendDriver('auto'), 'wireguard', input());
  assert.deepEqual(
    state.routes.map((r) => `${r.dst} ${r.dev}`),
    ['10.244.2.0/24 pn-wg', '10.244.3.0/24 pn-wg'],
  );
  assert.deepEqual(
    state.links.map((l) => l.name),
    ['pn-vxlan', 'pn-wg'],
  );
  assert.deepEqual(state.neighbours, []);
  assert.deepEqual(state.fdb, []);
  assert.equal(podMTU('auto', 1500, 'wireguard'), 1440);
  assert.equal(podMTU('auto', 1500), 1450);
  assert.equal(podMTU('wireguard', 1500), 1440);
});

test('wireguard: a new device is made by wireguard-go, given its key, then peers, then routes', () => {
  const desired = backendDriver('wireguard').desired(input());
  const commands = renderCommands(diffState(desired, empty));
  assert.deepEqual(commands.slice(0, 6), [
    'wireguard-go pn-wg',
    'ip link set pn-wg mtu 1440 up',
    'ip addr add 10.244.1.0/32 dev pn-wg',
    'wg set pn-wg private-key /var/lib/podnet/wireguard-private-key listen-port 51820',
    `wg set pn-wg peer ${keys['node-2']} endpoint 172.31.1.2:51820 allowed-ips 10.244.2.0/24`,
    `wg set pn-wg peer ${keys['node-3']} endpoint 172.31.2.1:51820 allowed-ips 10.244.3.0/24`,
  ]);
  assert.ok(
    commands.includes('ip route add 10.244.2.0/24 via 10.244.2.0 dev pn-wg onlink proto 80'),
  );
  const kernel = backendDriver('wireguard').desired(input(nodes(), { ...self, userspace: false }));
  assert.equal(
    renderCommands(diffState(kernel, empty))[0],
    'ip link add pn-wg mtu 1440 type wireguard',
  );
});

test('wireguard: what the last reconcile left (an agent restart with nothing changed) needs no change', () => {
  const desired = backendDriver('wireguard').desired(input());
  const after = stateAfter(desired, empty, diffState(desired, empty));
  assert.equal(after.links[0]?.kind, 'tun', "wireguard-go's device is a TUN device");
  assert.deepEqual(diffState(desired, after), []);
});

test('wireguard: only the peer whose key changed is touched; its allowed IPs move before the old key goes', () => {
  const before = backendDriver('wireguard').desired(input());
  const actual = stateAfter(before, empty, diffState(before, empty));
  const rotated = KEY('d');
  const desired = backendDriver('wireguard').desired(input(nodes({ 'node-3': rotated })));
  assert.deepEqual(renderCommands(diffState(desired, actual)), [
    `wg set pn-wg peer ${rotated} endpoint 172.31.2.1:51820 allowed-ips 10.244.3.0/24`,
    `wg set pn-wg peer ${keys['node-3']} remove`,
  ]);
});

test('wireguard: this node rotating its key sets the key on the device and nothing else', () => {
  const before = backendDriver('wireguard').desired(input());
  const actual = stateAfter(before, empty, diffState(before, empty));
  const desired = backendDriver('wireguard').desired(
    input(nodes(), { ...self, publicKey: KEY('e') }),
  );
  assert.deepEqual(renderCommands(diffState(desired, actual)), [
    'wg set pn-wg private-key /var/lib/podnet/wireguard-private-key listen-port 51820',
  ]);
});

test('wireguard: a host removed loses its peer and route; one added gains them', () => {
  const before = backendDriver('wireguard').desired(input());
  const actual = stateAfter(before, empty, diffState(before, empty));
  const two = nodes().filter((n) => n.metadata.name !== 'node-2');
  const changes = diffState(backendDriver('wireguard').desired(input(two)), actual);
  assert.deepEqual(renderCommands(changes), [
    `wg set pn-wg peer ${keys['node-2']} remove`,
    'ip route del 10.244.2.0/24 via 10.244.2.0 dev pn-wg onlink proto 80',
  ]);
});

test('wireguard: a peer endpoint or allowed IPs that drifted is set again', () => {
  const wg = device(backendDriver('wireguard').desired(input()));
  const drifted = {
    publicKey: wg.publicKey,
    listenPort: 51820,
    peers: wg.peers.map((p, i) => ({
      ...p,
      endpoint: i === 0 ? '172.31.9.9:51820' : p.endpoint,
      latestHandshake: 0,
      rxBytes: 0,
      txBytes: 0,
    })),
  };
  assert.deepEqual(
    diffWireguard(wg, drifted).map((c) => c.op),
    ['wg-peer-set'],
  );
});

test('wireguard: wg show dump is read into the device and its peers (sorted by key: wireguard-go lists them in map order), with handshake times', () => {
  const dump = [
    ['cHJpdmF0ZQ==', keys['node-1'], '51820', 'off'].join('\t'),
    [keys['node-3'], '(none)', '(none)', '10.244.3.0/24,10.244.30.0/24', '0', '0', '0', 'off'].join(
      '\t',
    ),
    [
      keys['node-2'],
      '(none)',
      '172.31.1.2:51820',
      '10.244.2.0/24',
      '1765000000',
      '1200',
      '3400',
      'off',
    ].join('\t'),
    '',
  ].join('\n');
  assert.deepEqual(parseWireguardDump(dump), {
    publicKey: keys['node-1'],
    listenPort: 51820,
    peers: [
      {
        publicKey: keys['node-2'],
        endpoint: '172.31.1.2:51820',
        allowedIPs: ['10.244.2.0/24'],
        latestHandshake: 1765000000,
        rxBytes: 1200,
        txBytes: 3400,
      },
      {
        publicKey: keys['node-3'],
        endpoint: '',
        allowedIPs: ['10.244.3.0/24', '10.244.30.0/24'],
        latestHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
      },
    ],
  });
  assert.equal(parseWireguardDump('(none)\t(none)\t0\toff\n').publicKey, undefined);
  assert.throws(() => parseWireguardDump('garbage'), /could not read the output of wg show dump/);
});

/** `node` with an IPv6 pod subnet and underlay address beside (or, ipv6Only, instead of) IPv4's. */
function withIPv6(node: Node, podCIDR6: string, ip6: string, ipv6Only = false): Node {
  const podCIDR = node.spec.podCIDR!;
  node.spec = ipv6Only
    ? { podCIDR: podCIDR6, podCIDRs: [podCIDR6] }
    : { podCIDR, podCIDRs: [podCIDR, podCIDR6] };
  node.status!.addresses!.push({ type: 'InternalIP', address: ip6 });
  return node;
}

function ipv6Nodes(ipv6Only: boolean): Node[] {
  return nodes().map((n, i) =>
    withIPv6(n, `fd00:10:244:${i + 1}::/64`, `fd00:172:31:1::${i + 1}`, ipv6Only),
  );
}

const underlay6 = { ...underlay, ipv6: { address: 'fd00:172:31:1::1', prefixLength: 64 } };

test('wireguard: on a dual-stack cluster one peer carries both pod subnets, over the IPv4 underlay', () => {
  const state = backendDriver('wireguard').desired({
    ...input(ipv6Nodes(false)),
    underlay: underlay6,
  });
  const wg = device(state);
  assert.equal(wg.mtu, 1440);
  assert.deepEqual(wg.addresses, ['10.244.1.0/32', 'fd00:10:244:1::/128']);
  assert.deepEqual(wg.peers[0], {
    publicKey: keys['node-2'],
    endpoint: '172.31.1.2:51820',
    allowedIPs: ['10.244.2.0/24', 'fd00:10:244:2::/64'],
  });
  assert.deepEqual(
    state.routes.map((r) => `${r.dst} via ${r.gateway} ${r.dev}`),
    [
      '10.244.2.0/24 via 10.244.2.0 pn-wg',
      'fd00:10:244:2::/64 via fd00:10:244:2:: pn-wg',
      '10.244.3.0/24 via 10.244.3.0 pn-wg',
      'fd00:10:244:3::/64 via fd00:10:244:3:: pn-wg',
    ],
  );
  assert.deepEqual(state.problems, []);
  assert.ok(state.sysctls.some((s) => s.key === 'net.ipv6.conf.all.forwarding' && s.value === '1'));
});

test('wireguard: on an IPv6-only cluster peers are reached at their IPv6 underlay addresses', () => {
  for (const [backend, encryption] of [
    ['wireguard', undefined],
    ['auto', 'wireguard'],
  ] as const) {
    const state = desiredFor(backendDriver(backend), encryption, {
      ...input(ipv6Nodes(true)),
      underlay: underlay6,
    });
    const wg = device(state);
    assert.equal(wg.mtu, 1420, `${backend}: 80 bytes over IPv6`);
    assert.deepEqual(wg.addresses, ['fd00:10:244:1::/128']);
    assert.deepEqual(
      wg.peers.map((p) => [p.endpoint, p.allowedIPs]),
      [
        ['[fd00:172:31:1::2]:51820', ['fd00:10:244:2::/64']],
        ['[fd00:172:31:1::3]:51820', ['fd00:10:244:3::/64']],
      ],
    );
    assert.deepEqual(
      state.routes.map((r) => `${r.dst} ${r.dev}`),
      ['fd00:10:244:2::/64 pn-wg', 'fd00:10:244:3::/64 pn-wg'],
    );
    assert.deepEqual(state.problems, [], backend);
    assert.ok(
      state.sysctls.some((s) => s.key === 'net.ipv6.conf.all.forwarding'),
      backend,
    );
  }
  assert.equal(podMTU('auto', 1500, 'wireguard', undefined, true), 1420);
  assert.equal(podMTU('wireguard', 1500, undefined, undefined, true), 1420);
  assert.equal(podMTU('wireguard', 1500), 1440);
});
