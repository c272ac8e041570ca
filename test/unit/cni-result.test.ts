import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, encodeResponse } from '../../src/cni/protocol.js';
import { buildResult, type PodNetwork } from '../../src/cni/result.js';
import { prevResultAddresses, wiringProblems } from '../../src/cni/check.js';

const net: PodNetwork = {
  hostVeth: { name: 'pn0123456789a', mac: '02:aa:bb:cc:dd:ee' },
  pod: { ifname: 'eth0', mac: '0a:58:0a:f4:01:05', netns: '/run/netns/p' },
  address: '10.244.1.5/32',
  gateway: '10.244.1.1',
  mtu: 1450,
  dns: { nameservers: ['10.96.0.10'], domain: 'cluster.local', podNamespace: 'shop' },
};

test('cni-result: 1.0.0 result carries interfaces with mac and sandbox, ips, routes, dns', () => {
  const r = buildResult('1.0.0', net);
  assert.deepEqual(r.interfaces, [
    { name: 'pn0123456789a', mac: '02:aa:bb:cc:dd:ee' },
    { name: 'eth0', mac: '0a:58:0a:f4:01:05', sandbox: '/run/netns/p' },
  ]);
  assert.deepEqual(r.ips, [{ address: '10.244.1.5/32', gateway: '10.244.1.1', interface: 1 }]);
  assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0', gw: '10.244.1.1' }]);
  assert.deepEqual(r.dns, {
    nameservers: ['10.96.0.10'],
    domain: 'cluster.local',
    search: ['shop.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
    options: ['ndots:5'],
  });
});

test('cni-result: 0.4.0 marks IP versions; 1.1.0 adds interface MTUs', () => {
  assert.equal(buildResult('0.4.0', net).ips[0]!.version, '4');
  assert.equal(buildResult('0.4.0', net).interfaces[1]!.mtu, undefined);
  assert.equal(buildResult('1.1.0', net).interfaces[1]!.mtu, 1450);
  assert.equal(buildResult('1.1.0', net).ips[0]!.version, undefined);
});

test('cni-protocol: the shim request splits into environment and stdin', () => {
  const raw = Buffer.from('CNI_COMMAND=ADD\0CNI_ARGS=A=1;B=2\0\0{"cniVersion":"1.0.0"}');
  assert.deepEqual(decodeRequest(raw), {
    env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'A=1;B=2' },
    stdin: '{"cniVersion":"1.0.0"}',
  });
  assert.deepEqual(decodeRequest(Buffer.from('\0')), { env: {}, stdin: '' });
  assert.throws(() => decodeRequest(Buffer.from('CNI_COMMAND=ADD')), /inside the environment/);
  assert.equal(encodeResponse(7, '{"x":1}\n').toString(), '7\n{"x":1}\n');
});

test('cni-check: every kind of drift is named; intact wiring has none', () => {
  const want = { podIP: '10.244.1.5', gateway: '10.244.1.1', ifname: 'eth0', hostVeth: 'pnX' };
  const intact = {
    podAddresses: ['10.244.1.5/32'],
    podRoutes: [
      { dst: 'default', gateway: '10.244.1.1', dev: 'eth0' },
      { dst: '10.244.1.1', dev: 'eth0' },
    ],
    hostRoutes: [{ dst: '10.244.1.5', dev: 'pnX', protocol: '80' }],
  };
  assert.deepEqual(wiringProblems(want, intact), []);
  assert.match(
    wiringProblems(want, { ...intact, podAddresses: [] })[0]!,
    /no longer has 10\.244\.1\.5\/32/,
  );
  assert.match(
    wiringProblems(want, { ...intact, podRoutes: [intact.podRoutes[1]!] })[0]!,
    /default route/,
  );
  assert.match(
    wiringProblems(want, { ...intact, podRoutes: [intact.podRoutes[0]!] })[0]!,
    /route to the gateway/,
  );
  assert.match(
    wiringProblems(want, { ...intact, hostRoutes: [] })[0]!,
    /host route 10\.244\.1\.5\/32 dev pnX proto 80/,
  );
});

test('cni-check: a dual-stack pod is checked on both families; each IPv6 drift is named', () => {
  const want = {
    podIP: '10.244.1.5',
    gateway: '10.244.1.1',
    ifname: 'eth0',
    hostVeth: 'pnX',
    ipv6: { podIP: 'fd00:10:244:1::5', gateway: 'fe80::1' },
  };
  const intact = {
    podAddresses: ['10.244.1.5/32', 'fd00:10:244:1::5/128'],
    podRoutes: [
      { dst: 'default', gateway: '10.244.1.1', dev: 'eth0' },
      { dst: '10.244.1.1', dev: 'eth0' },
      { dst: 'default', gateway: 'fe80::1', dev: 'eth0' },
    ],
    hostRoutes: [
      { dst: '10.244.1.5', dev: 'pnX', protocol: '80' },
      { dst: 'fd00:10:244:1::5', dev: 'pnX', protocol: '80' },
    ],
  };
  assert.deepEqual(wiringProblems(want, intact), []);
  assert.deepEqual(wiringProblems(want, { ...intact, podAddresses: ['10.244.1.5/32'] }), [
    'eth0 no longer has fd00:10:244:1::5/128',
  ]);
  assert.deepEqual(wiringProblems(want, { ...intact, podRoutes: intact.podRoutes.slice(0, 2) }), [
    "the pod's default route via fe80::1 is missing",
  ]);
  assert.deepEqual(wiringProblems(want, { ...intact, hostRoutes: intact.hostRoutes.slice(0, 1) }), [
    'the host route fd00:10:244:1::5/128 dev pnX proto 80 is missing',
  ]);
  // An IPv4-only pod is not asked for IPv6 wiring.
  const v4only = { podIP: '10.244.1.5', gateway: '10.244.1.1', ifname: 'eth0', hostVeth: 'pnX' };
  assert.deepEqual(
    wiringProblems(v4only, {
      ...intact,
      podAddresses: ['10.244.1.5/32'],
      podRoutes: intact.podRoutes.slice(0, 2),
      hostRoutes: intact.hostRoutes.slice(0, 1),
    }),
    [],
  );
});

test('cni-check: prevResult lists the addresses of both families', () => {
  assert.deepEqual(
    prevResultAddresses({
      ips: [{ address: '10.244.1.5/32' }, { address: 'fd00:10:244:1::5/128' }, { gateway: 'x' }],
    }),
    ['10.244.1.5/32', 'fd00:10:244:1::5/128'],
  );
  assert.deepEqual(prevResultAddresses(undefined), []);
});

test('cni-result: a dual-stack pod lists both addresses, both default routes and both nameservers', () => {
  const dual = {
    ...net,
    ipv6: { address: 'fd00:10:244:1::5/128', gateway: 'fe80::1' },
    dns: { ...net.dns, nameservers: ['10.96.0.10', 'fd00:10:96::a'] },
  };
  const r = buildResult('1.0.0', dual);
  assert.deepEqual(r.ips, [
    { address: '10.244.1.5/32', gateway: '10.244.1.1', interface: 1 },
    { address: 'fd00:10:244:1::5/128', gateway: 'fe80::1', interface: 1 },
  ]);
  assert.deepEqual(r.routes, [
    { dst: '0.0.0.0/0', gw: '10.244.1.1' },
    { dst: '::/0', gw: 'fe80::1' },
  ]);
  assert.deepEqual(
    buildResult('0.4.0', dual).ips.map((ip) => ip.version),
    ['4', '6'],
  );
  // As kubelet writes every clusterDNS address: a resolver that loses one family has the other.
  assert.deepEqual(r.dns.nameservers, ['10.96.0.10', 'fd00:10:96::a']);
});

test('cni-result: an IPv6-only pod lists its IPv6 address alone, with the IPv6 default route', () => {
  const v6: PodNetwork = {
    ...net,
    address: 'fd00:10:244:1::5/128',
    gateway: 'fe80::1',
    dns: { ...net.dns, nameservers: ['fd00:10:96::a'] },
  };
  const r = buildResult('0.4.0', v6);
  assert.deepEqual(r.ips, [
    { version: '6', address: 'fd00:10:244:1::5/128', gateway: 'fe80::1', interface: 1 },
  ]);
  assert.deepEqual(r.routes, [{ dst: '::/0', gw: 'fe80::1' }]);
  assert.deepEqual(r.dns.nameservers, ['fd00:10:96::a']);
});
