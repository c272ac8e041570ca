import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderBirdFabric, renderFrrFabric } from '../../src/bgp/fabric.js';
import { routeLines } from '../../src/bgp/kernel-routes.js';

const spec = {
  routerId: '172.31.1.254',
  routerAs: 65000,
  clusterAs: 64512,
  holdTime: 9,
  hosts: [
    { name: 'node-1', address: '172.31.1.1', routerAddress: '172.31.1.254' },
    { name: 'node-2', address: '172.31.2.1', routerAddress: '172.31.2.254' },
  ],
};

test('bgp fabric: BIRD config peers every host and overrides the cluster AS', () => {
  const conf = renderBirdFabric(spec);
  assert.match(conf, /router id 172\.31\.1\.254;/);
  assert.match(conf, /bgp_path\.delete\(64512\);/);
  assert.match(
    conf,
    /protocol bgp host_node_2 from podnet_host \{\n {2}local 172\.31\.2\.254 as 65000;\n {2}neighbor 172\.31\.2\.1 as 64512;/,
  );
  assert.match(conf, /hold time 9;/);
});

test('bgp fabric: the FRR config carries as-override and one neighbor per host', () => {
  const frr = renderFrrFabric(spec);
  assert.match(frr, /^router bgp 65000$/m);
  assert.match(frr, /^ neighbor 172\.31\.1\.1 remote-as 64512$/m);
  assert.match(frr, /^ {2}neighbor 172\.31\.2\.1 as-override$/m);
});

test('bgp fabric: on an IPv6-only cluster BIRD and FRR peer over IPv6 and carry IPv6 alone', () => {
  const v6 = {
    ...spec,
    ipv6Only: true,
    hosts: spec.hosts.map((h, i) => ({
      ...h,
      ipv6: { address: `fd00:172:31:${i + 1}::1`, routerAddress: `fd00:172:31:${i + 1}::fe` },
    })),
  };
  const bird = renderBirdFabric(v6);
  assert.match(
    bird,
    /protocol bgp host_node_2 from podnet_host \{\n {2}local fd00:172:31:2::fe as 65000;\n {2}neighbor fd00:172:31:2::1 as 64512;\n\}/,
  );
  assert.match(bird, /ipv6 \{ import all; export filter podnet_out; \};/);
  // No IPv4 channel on the sessions (the kernel protocol for IPv4 stays, idle).
  assert.doesNotMatch(bird, /ipv4 \{ import all/);
  assert.doesNotMatch(bird, /neighbor 172\./);
  const frr = renderFrrFabric(v6);
  assert.match(frr, /^ no bgp default ipv4-unicast$/m);
  assert.match(frr, /^ neighbor fd00:172:31:1::1 update-source fd00:172:31:1::fe$/m);
  assert.match(
    frr,
    / address-family ipv6 unicast\n {2}neighbor fd00:172:31:1::1 activate\n {2}neighbor fd00:172:31:1::1 as-override\n/,
  );
  assert.doesNotMatch(frr, /address-family ipv4 unicast|neighbor 172\./);
});

test('bgp kernel routes: only the difference, marked proto 80', () => {
  const installed = new Map([
    ['10.244.2.0/24', '172.31.1.2'],
    ['10.244.3.0/24', '172.31.1.254'],
    ['10.244.9.0/24', '172.31.1.9'],
  ]);
  const wanted = new Map([
    ['10.244.2.0/24', '172.31.1.2'],
    ['10.244.3.0/24', '172.31.1.3'],
    ['10.244.4.0/24', '172.31.1.254'],
  ]);
  assert.deepEqual(routeLines(wanted, installed), [
    'del 10.244.9.0/24 via 172.31.1.9 proto 80',
    'replace 10.244.3.0/24 via 172.31.1.3 proto 80',
    'replace 10.244.4.0/24 via 172.31.1.254 proto 80',
  ]);
  assert.deepEqual(routeLines(wanted, wanted), []);
});
