import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routingRoutes } from '../../src/kernel/routing-read.js';

test("routing reads only its own proto 80 routes, not the CNI's per-pod host routes", () => {
  // `ip -j route show proto 80` on a host with a pod, a same-zone peer and a VXLAN peer.
  const routes = routingRoutes([
    { dst: '10.244.1.2', dev: 'pn0123456789a', flags: [] },
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', flags: [] },
    { dst: '10.244.3.0/24', gateway: '10.244.3.0', dev: 'pn-vxlan', flags: ['onlink'] },
  ]);
  assert.deepEqual(routes, [
    { dst: '10.244.2.0/24', gateway: '172.31.1.2', dev: 'eth0', onlink: false },
    { dst: '10.244.3.0/24', gateway: '10.244.3.0', dev: 'pn-vxlan', onlink: true },
  ]);
});
