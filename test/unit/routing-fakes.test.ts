// The real reconciler against an in-memory host: what it programs, that a second run reading
// the host changes nothing, and where packets to pod subnets go afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reconcileHost, type HostInput } from '../../src/routing/reconcile.js';
import { FakeRoutingKernel } from '../helpers/fake-routing.js';
import { makeNode } from '../helpers/routing-nodes.js';

const UNDERLAY = { dev: 'eth0', address: '172.31.1.1', prefixLength: 24, mtu: 1500 };
const nodes = [
  makeNode('n1', '10.244.1.0/24', '172.31.1.1', { zone: 'a', mac: '02:00:00:00:01:01' }),
  makeNode('n2', '10.244.2.0/24', '172.31.1.2', { zone: 'a', mac: '02:00:00:00:01:02' }),
  makeNode('n3', '10.244.3.0/24', '172.31.2.3', { zone: 'b', mac: '02:00:00:00:01:03' }),
];

function input(backend: string, list = nodes): HostInput {
  return { nodes: list, selfName: 'n1', backend, vtepMac: '02:00:00:00:01:01' };
}

test('host-gw: a peer on the same segment is reached by its address, a second run changes nothing', async () => {
  const host = new FakeRoutingKernel(UNDERLAY);
  const first = await reconcileHost(input('host-gw', nodes.slice(0, 2)), host);
  assert.ok(first.changes.length > 0);
  assert.deepEqual(host.routeLookup('10.244.2.7'), { dev: 'eth0', gateway: '172.31.1.2' });
  const again = await reconcileHost(input('host-gw', nodes.slice(0, 2)), host);
  assert.deepEqual(again.changes, []);
});

test('vxlan: peers are reached through pn-vxlan, with neighbour and FDB entries to their VTEPs', async () => {
  const host = new FakeRoutingKernel(UNDERLAY);
  await reconcileHost(input('vxlan'), host);
  assert.equal(host.routeLookup('10.244.3.7')?.dev, 'pn-vxlan');
  const gateway = host.routeLookup('10.244.3.7')!.gateway!;
  const neighbour = host.neighbours.find((n) => n.ip === gateway)!;
  assert.equal(neighbour.mac, '02:00:00:00:01:03');
  assert.deepEqual(
    host.fdb.find((f) => f.mac === neighbour.mac),
    { dev: 'pn-vxlan', mac: '02:00:00:00:01:03', dst: '172.31.2.3' },
  );
  assert.deepEqual((await reconcileHost(input('vxlan'), host)).changes, []);
});

test('a peer that left: its route, neighbour and FDB entry go, the others stay', async () => {
  const host = new FakeRoutingKernel(UNDERLAY);
  await reconcileHost(input('vxlan'), host);
  await reconcileHost(input('vxlan', nodes.slice(0, 2)), host);
  assert.equal(host.routeLookup('10.244.3.7'), undefined, 'no route to its subnet is left');
  assert.equal(
    host.fdb.some((f) => f.dst === '172.31.2.3'),
    false,
  );
  assert.equal(host.routeLookup('10.244.2.7')?.dev, 'pn-vxlan');
});

test('the fake host refuses a route on a device that does not exist', async () => {
  const host = new FakeRoutingKernel(UNDERLAY);
  await assert.rejects(
    host.applyChanges([
      {
        op: 'route-add',
        route: { dst: '10.244.9.0/24', gateway: '10.244.9.0', dev: 'pn-vxlan', onlink: true },
      },
    ]),
    /Cannot find device "pn-vxlan"/,
  );
});

test('the fake host refuses to add a route where someone else has one, and lets replace take it', async () => {
  const host = new FakeRoutingKernel(UNDERLAY);
  const route = { dst: '10.244.9.0/24', gateway: '172.31.1.9', dev: 'eth0', onlink: false };
  host.foreignRoutes = [{ ...route, gateway: '172.31.1.254' }];
  await assert.rejects(host.applyChanges([{ op: 'route-add', route }]), /File exists/);
  assert.deepEqual(host.routes, []);
  await host.applyChanges([{ op: 'route-replace', route }]);
  assert.deepEqual(host.routes, [route]);
  assert.deepEqual(host.foreignRoutes, []);
});

test("the fake host gives each device the default's value of its conf keys while it exists", async () => {
  const host = new FakeRoutingKernel(UNDERLAY);
  host.sysctls['net.ipv4.conf.default.rp_filter'] = '2';
  const key = 'net.ipv4.conf.pn-vxlan.rp_filter';
  assert.deepEqual(await host.readSysctls([key]), {}, 'no device, no key');
  await reconcileHost(input('vxlan'), host);
  assert.equal((await host.readSysctls([key]))[key], '2', 'a new device starts from the default');
  await host.applyChanges([{ op: 'link-del', name: 'pn-vxlan' }]);
  assert.deepEqual(await host.readSysctls([key]), {}, 'gone with the device');
  assert.deepEqual(await host.readSysctls(['net.ipv4.conf.eth0.rp_filter']), {
    'net.ipv4.conf.eth0.rp_filter': '2',
  });
});
