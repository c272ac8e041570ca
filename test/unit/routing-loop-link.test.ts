// A link coming back up: the kernel removed the routes through it, and the loop's next run must
// read the kernel to see that, where an ordinary trigger trusts what its last run left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { RoutingLoop } from '../../src/routing/loop.js';
import { FakeRoutingKernel } from '../helpers/fake-routing.js';
import { makeNode } from '../helpers/routing-nodes.js';

const UNDERLAY = { dev: 'eth0', address: '172.31.1.1', prefixLength: 24, mtu: 1500 };
const nodes = [
  makeNode('n1', '10.244.1.0/24', '172.31.1.1', { zone: 'a' }),
  makeNode('n2', '10.244.2.0/24', '172.31.1.2', { zone: 'a' }),
];
const features = {
  probeIpip: () => Promise.resolve({ ok: true }),
  probeWireguard: () => Promise.resolve({ ok: true }),
  kernelConfig: () => undefined,
  hasIpipBpf: () => false,
};

test('a trigger for a link up reads the kernel and puts back the routes it dropped', async () => {
  const kernel = new FakeRoutingKernel(UNDERLAY);
  const loop = new RoutingLoop({
    selfName: 'n1',
    kernel,
    features,
    periodMs: 3_600_000,
    vtepMac: '02:00:00:00:01:01',
    log: pino({ level: 'silent' }),
    snapshot: () => ({ nodes, backend: 'host-gw' }),
  });
  try {
    loop.start();
    await loop.idle();
    assert.equal(kernel.routeLookup('10.244.2.7')?.gateway, '172.31.1.2');
    // The link went down: the kernel removed every route through it.
    kernel.routes = kernel.routes.filter((r) => r.dev !== 'eth0');
    loop.trigger('node n2 modified');
    await loop.idle();
    assert.equal(
      kernel.routeLookup('10.244.2.7'),
      undefined,
      'an ordinary trigger trusts its view',
    );
    loop.trigger('link eth0 up', true);
    await loop.idle();
    assert.equal(kernel.routeLookup('10.244.2.7')?.gateway, '172.31.1.2');
  } finally {
    await loop.stop();
  }
});
