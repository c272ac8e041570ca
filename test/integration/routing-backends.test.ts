// Cross-host pod traffic per backend, on real kernels in namespaces this file owns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeIpip } from '../../src/kernel/features.js';
import { backendDriver } from '../../src/routing/backends/registry.js';
import { checkBackendSupport } from '../../src/routing/support.js';
import { kernelFeatures } from '../../src/kernel/features.js';
import { lastResult, startCluster } from '../helpers/routing-loops.js';
import {
  podnetRoutes,
  sh,
  shAsync,
  tcpTransfer,
  unreachablePairs,
  topologyBuilder,
} from '../helpers/routing-topology.js';

const topology = topologyBuilder();

test('routing: host-gw in one zone: every pod reaches every other pod by plain routes', async () => {
  const topo = topology([1, 1, 1], { podMTU: 1500 });
  // Hosts start the way a fresh machine may: no forwarding, strict reverse-path filtering.
  for (const h of topo.hosts) {
    sh(`ip netns exec ${h.ns} sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.all.rp_filter=1`);
  }
  const cluster = startCluster(topo, 'host-gw');
  try {
    await cluster.settle();
    assert.deepEqual(await unreachablePairs(topo.hosts), []);
    assert.deepEqual(podnetRoutes(topo.hosts[0]!.ns), [
      '10.244.2.0/24 via 172.31.1.12 dev eth0',
      '10.244.3.0/24 via 172.31.1.13 dev eth0',
    ]);
    assert.equal(
      sh(`ip netns exec ${topo.hosts[0]!.ns} sysctl -n net.ipv4.ip_forward`).trim(),
      '1',
    );
    assert.ok(
      cluster.logs.some(
        (l) => l.includes('"sysctl":"net.ipv4.ip_forward"') && l.includes('"was":"0"'),
      ),
      'the sysctl change is reported',
    );
  } finally {
    await cluster.stop();
  }
});

test('routing: host-gw across zones names the peers that are not on-link', async () => {
  const topo = topology([1, 1, 2], { podMTU: 1500 });
  const cluster = startCluster(topo, 'host-gw');
  try {
    await cluster.settle();
    assert.deepEqual(lastResult(cluster, 'node-1').problems, [
      { peer: 'node-3', reason: "172.31.2.13 is not on-link (outside eth0's 172.31.1.11/24)" },
    ]);
    assert.deepEqual(
      lastResult(cluster, 'node-3').problems.map((p) => p.peer),
      ['node-1', 'node-2'],
    );
    assert.ok(cluster.logs.some((l) => l.includes('peer node-3 cannot be routed to')));
    // Nothing was handed to the kernel for them; the on-link peer is still routed.
    assert.deepEqual(podnetRoutes(topo.hosts[0]!.ns), ['10.244.2.0/24 via 172.31.1.12 dev eth0']);
    assert.deepEqual(podnetRoutes(topo.hosts[2]!.ns), []);
  } finally {
    await cluster.stop();
  }
});

test('routing: vxlan across two zones: all pods reach each other, MTU fits 1400-byte pings and 10 MB of TCP', async () => {
  const topo = topology([1, 1, 2, 2], { podMTU: 1450 });
  const cluster = startCluster(topo, 'vxlan');
  try {
    await cluster.settle();
    assert.deepEqual(await unreachablePairs(topo.hosts), []);
    assert.deepEqual(await unreachablePairs([topo.hosts[0]!, topo.hosts[2]!], 1400), []);
    // The largest unfragmented ping a pod with MTU 1450 can send (DF set) still fits.
    assert.deepEqual(await unreachablePairs([topo.hosts[1]!, topo.hosts[3]!], 1450 - 28), []);
    const ns1 = topo.hosts[0]!.ns;
    assert.deepEqual(podnetRoutes(ns1), [
      '10.244.2.0/24 via 10.244.2.0 dev pn-vxlan',
      '10.244.3.0/24 via 10.244.3.0 dev pn-vxlan',
      '10.244.4.0/24 via 10.244.4.0 dev pn-vxlan',
    ]);
    const link = JSON.parse(sh(`ip -n ${ns1} -j -d link show pn-vxlan`))[0];
    assert.equal(link.mtu, 1450);
    assert.equal(link.address, topo.hosts[0]!.vtepMac);
    assert.deepEqual(
      [link.linkinfo.info_data.id, link.linkinfo.info_data.port, link.linkinfo.info_data.learning],
      [1, 8472, false],
    );
    assert.match(
      sh(`bridge -n ${ns1} fdb show dev pn-vxlan`),
      /02:00:00:00:00:03 dst 172\.31\.2\.13 self permanent/,
    );
    assert.match(
      sh(`ip -n ${ns1} neigh show dev pn-vxlan`),
      /10\.244\.3\.0 lladdr 02:00:00:00:00:03 PERMANENT/,
    );

    const received = await tcpTransfer(topo.hosts[0]!.pods[0]!, topo.hosts[2]!.pods[0]!, 10 << 20);
    assert.equal(received, 10 << 20, 'the receiver got all 10 MB');
  } finally {
    await cluster.stop();
  }
});

test('routing: auto goes direct inside a zone and through VXLAN across, seen in routes and on the wire', async () => {
  const topo = topology([1, 1, 2], { podMTU: 1450 });
  const cluster = startCluster(topo, 'auto');
  try {
    await cluster.settle();
    assert.deepEqual(await unreachablePairs(topo.hosts), []);
    const h1 = topo.hosts[0]!;
    assert.deepEqual(podnetRoutes(h1.ns), [
      '10.244.2.0/24 via 172.31.1.12 dev eth0',
      '10.244.3.0/24 via 10.244.3.0 dev pn-vxlan',
    ]);
    // Capture on node-1's underlay while its pod pings the same-zone pod, then the other zone.
    const capture = async (target: string): Promise<{ plain: number; vxlan: number }> => {
      const file = `/tmp/${h1.ns}-${target}.pcap`;
      const dump = shAsync(
        `ip netns exec ${h1.ns} timeout 4 tcpdump -i eth0 -nn -U -w ${file} 'icmp or udp port 8472' 2>/dev/null || true`,
      );
      await new Promise((r) => setTimeout(r, 800));
      await shAsync(`ip netns exec ${h1.pods[0]!.ns} ping -c3 -i0.2 -W1 ${target}`);
      await dump;
      const count = (filter: string): number =>
        Number(sh(`tcpdump -nn -r ${file} '${filter}' 2>/dev/null | wc -l`).trim());
      const result = {
        plain: count(`icmp and host ${target}`),
        vxlan: count('udp port 8472'),
      };
      sh(`rm -f ${file}`);
      return result;
    };
    const sameZone = await capture(topo.hosts[1]!.pods[0]!.ip);
    assert.ok(
      sameZone.plain >= 6,
      `same-zone pings cross the underlay unencapsulated (${sameZone.plain})`,
    );
    assert.equal(sameZone.vxlan, 0, 'no VXLAN packet for a same-zone peer');
    const otherZone = await capture(topo.hosts[2]!.pods[0]!.ip);
    assert.equal(otherZone.plain, 0, 'cross-zone pod packets never appear bare on the underlay');
    assert.ok(otherZone.vxlan >= 6, `cross-zone pings are VXLAN-encapsulated (${otherZone.vxlan})`);
  } finally {
    await cluster.stop();
  }
});

test('routing: ipip runs on the kernel device where there is one, else on the BPF programs; refused naming CONFIG_NET_IPIP without either', async () => {
  const probe = await probeIpip();
  const support = await checkBackendSupport(backendDriver('ipip'), kernelFeatures);
  assert.deepEqual(support, { ipipBpf: !probe.ok });
  if (probe.ok) return;
  const unbuilt = { ...kernelFeatures, hasIpipBpf: () => false };
  await assert.rejects(checkBackendSupport(backendDriver('ipip'), unbuilt), (err: Error) => {
    assert.equal((err as { exitCode?: number }).exitCode, 2);
    assert.match(
      err.message,
      /^backend ipip: this kernel has no IP-in-IP support: CONFIG_NET_IPIP is not enabled/,
    );
    assert.match(
      err.message,
      /BPF IP-in-IP program is not built \(make build\); use backend vxlan, or auto with autoTunnel vxlan, instead$/,
    );
    return true;
  });
  // The other backends need nothing the kernel lacks.
  for (const name of ['host-gw', 'vxlan', 'auto'])
    assert.deepEqual(await checkBackendSupport(backendDriver(name), kernelFeatures), {
      ipipBpf: false,
    });
});
