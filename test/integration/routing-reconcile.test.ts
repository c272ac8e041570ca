// The reconciler over time: repairs, restarts, hosts leaving and joining, backend switches.
// After each scenario every host's kernel holds what a fresh reconcile makes of a fake copy of
// it, so the fake routing host cannot drift from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Route } from '../../src/kernel/netobjects.js';
import { lastResult, startCluster, type Cluster } from '../helpers/routing-loops.js';
import { assertRoutingMatchesKernel } from '../helpers/routing-drift.js';
import {
  eventually,
  podnetRoutes,
  sh,
  tcpStream,
  unreachablePairs,
  watchKernel,
  topologyBuilder,
  type Topology,
} from '../helpers/routing-topology.js';

const topology = topologyBuilder();

/** Each host of `topo` equals a fake copy of it after one fresh reconcile of the same input. */
async function assertFakesMatchKernel(
  cluster: Cluster,
  topo: Topology,
  foreignRoutes: Record<string, Route[]> = {},
): Promise<void> {
  for (const host of topo.hosts) {
    await assertRoutingMatchesKernel(
      {
        nodes: cluster.nodes,
        selfName: host.name,
        backend: cluster.backend,
        vtepMac: host.vtepMac,
      },
      host,
      cluster.results.get(host.name)?.at(-1),
      foreignRoutes[host.name],
    );
  }
}

test('routing: hand-deleted routes, neighbours and FDB entries are repaired within the period', async () => {
  const topo = topology([1, 2, 2], { podMTU: 1450 });
  const cluster = startCluster(topo, 'vxlan', 1000);
  try {
    await cluster.settle();
    const ns = topo.hosts[0]!.ns;
    const before = podnetRoutes(ns);
    sh(`ip -n ${ns} route del 10.244.2.0/24`);
    sh(`ip -n ${ns} neigh del 10.244.3.0 dev pn-vxlan`);
    sh(`bridge -n ${ns} fdb del 02:00:00:00:00:03 dev pn-vxlan dst 172.31.2.13 self`);
    const started = Date.now();
    const repaired = await eventually(
      () =>
        podnetRoutes(ns).join() === before.join() &&
        /10\.244\.3\.0 lladdr 02:00:00:00:00:03 PERMANENT/.test(
          sh(`ip -n ${ns} neigh show dev pn-vxlan`),
        ) &&
        /02:00:00:00:00:03 dst 172\.31\.2\.13/.test(sh(`bridge -n ${ns} fdb show dev pn-vxlan`)),
      3000,
    );
    assert.ok(repaired, 'route, neighbour and FDB entry are back');
    assert.ok(
      Date.now() - started < 2500,
      `repaired within the 1 s period (+ slack): ${Date.now() - started} ms`,
    );
    assert.deepEqual(await unreachablePairs(topo.hosts), []);
    await assertFakesMatchKernel(cluster, topo);
  } finally {
    await cluster.stop();
  }
});

test('routing: a restarted reconciler makes zero kernel changes when nothing changed', async () => {
  const topo = topology([1, 1, 2], { podMTU: 1450 });
  const programming = watchKernel(topo.hosts[0]!.ns);
  const first = startCluster(topo, 'auto');
  await first.settle();
  await first.stop();
  // The same watch does see podnet's objects being made (so an empty list below means something).
  assert.ok((await programming.stop()).length >= 4);
  const watches = topo.hosts.map((h) => watchKernel(h.ns));
  const second = startCluster(topo, 'auto');
  try {
    await second.settle();
    for (const host of topo.hosts) {
      const r = lastResult(second, host.name);
      assert.deepEqual(r.changes, [], `${host.name} planned no change`);
      assert.equal(r.batches, 0);
    }
    const events = (await Promise.all(watches.map((w) => w.stop()))).flat();
    assert.deepEqual(events, [], 'the kernel saw no change to podnet objects');
    await assertFakesMatchKernel(second, topo);
  } finally {
    await second.stop();
  }
});

test('routing: a removed host disappears from every other host; a new one is programmed everywhere', async () => {
  const topo = topology([1, 1, 2, 2], { podMTU: 1450 });
  const cluster = startCluster(topo, 'vxlan');
  try {
    await cluster.settle();
    const gone = topo.hosts[3]!;
    const all = cluster.nodes;
    cluster.nodes = all.filter((n) => n.metadata.name !== gone.name);
    await cluster.settle();
    for (const host of topo.hosts.slice(0, 3)) {
      assert.ok(
        !podnetRoutes(host.ns).some((r) => r.startsWith('10.244.4.0/24')),
        `${host.name} route`,
      );
      assert.doesNotMatch(sh(`ip -n ${host.ns} neigh show dev pn-vxlan`), /10\.244\.4\.0/);
      assert.doesNotMatch(sh(`bridge -n ${host.ns} fdb show dev pn-vxlan`), /02:00:00:00:00:04/);
    }
    cluster.nodes = all;
    await cluster.settle();
    for (const host of topo.hosts.slice(0, 3)) {
      assert.ok(
        podnetRoutes(host.ns).includes('10.244.4.0/24 via 10.244.4.0 dev pn-vxlan'),
        host.name,
      );
      assert.match(
        sh(`bridge -n ${host.ns} fdb show dev pn-vxlan`),
        /02:00:00:00:00:04 dst 172\.31\.2\.14/,
      );
    }
    assert.deepEqual(await unreachablePairs(topo.hosts), []);
    await assertFakesMatchKernel(cluster, topo);
  } finally {
    await cluster.stop();
  }
});

test('routing: switching backends moves every host without stalling a TCP connection for 1 s', async (t) => {
  const topo = topology([1, 1, 1], { podMTU: 1450 });
  const cluster = startCluster(topo, 'vxlan');
  try {
    await cluster.settle();
    const stream = tcpStream(topo.hosts[0]!.pods[0]!, topo.hosts[1]!.pods[0]!, 6);
    const switchTo = async (backend: string): Promise<void> => {
      await new Promise((r) => setTimeout(r, 1500));
      cluster.backend = backend;
      // Hosts learn of the change one after another, as agents watching the store do.
      for (const loop of cluster.loops.values()) {
        loop.trigger('backend');
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const loop of cluster.loops.values()) await loop.idle();
    };
    await switchTo('host-gw');
    assert.deepEqual(podnetRoutes(topo.hosts[0]!.ns), [
      '10.244.2.0/24 via 172.31.1.12 dev eth0',
      '10.244.3.0/24 via 172.31.1.13 dev eth0',
    ]);
    await switchTo('vxlan');
    await switchTo('auto');
    const { bytes, maxGapMs } = await stream;
    t.diagnostic(`vxlan → host-gw → vxlan → auto: ${bytes} bytes, longest stall ${maxGapMs} ms`);
    assert.ok(bytes > 300 * 1024, `the connection kept carrying data (${bytes} bytes)`);
    assert.ok(maxGapMs < 1000, `longest stall ${maxGapMs} ms`);
    assert.deepEqual(await unreachablePairs(topo.hosts), []);
    await assertFakesMatchKernel(cluster, topo);
  } finally {
    await cluster.stop();
  }
});

test('routing: a route podnet does not own is never replaced; the failure names the command', async () => {
  const topo = topology([1, 1, 1], { podMTU: 1450 });
  const ns = topo.hosts[0]!.ns;
  // Someone else's route to node-3's pod subnet (not proto 80).
  const foreign: Route = {
    dst: '10.244.3.0/24',
    gateway: '172.31.1.254',
    dev: 'eth0',
    onlink: false,
  };
  sh(`ip -n ${ns} route add ${foreign.dst} via ${foreign.gateway} proto static`);
  const cluster = startCluster(topo, 'host-gw');
  try {
    await cluster.settle();
    const err = cluster.results.get('node-1')!.at(-1);
    assert.ok(err instanceof Error, 'node-1 reports the failed change');
    assert.match(
      err.message,
      /ip route add 10\.244\.3\.0\/24 via 172\.31\.1\.13 dev eth0 proto 80: .*File exists/,
    );
    assert.match(
      sh(`ip -n ${ns} route show 10.244.3.0/24`),
      /via 172\.31\.1\.254 dev eth0 proto static/,
    );
    // The rest of the batch went through.
    assert.deepEqual(podnetRoutes(ns), ['10.244.2.0/24 via 172.31.1.12 dev eth0']);
    assert.ok(
      cluster.logs.some((l) => l.includes('routing reconcile failed') && l.includes('File exists')),
    );
    await assertFakesMatchKernel(cluster, topo, { 'node-1': [foreign] });
  } finally {
    await cluster.stop();
  }
});
