import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeNetwork } from '../../src/agent/node-controller.js';
import { DEFAULT_CLUSTER_NETWORK } from '../../src/api/types.js';
import { clusterPodMTU, podMTU } from '../../src/routing/mtu.js';

test('routing: pod MTU leaves room for the backend encapsulation', () => {
  assert.equal(podMTU('host-gw', 1500), 1500);
  assert.equal(podMTU('vxlan', 1500), 1450);
  assert.equal(podMTU('ipip', 1500), 1480);
  assert.equal(podMTU('auto', 1500), 1450);
});

test('routing: auto tunnelling through IP-in-IP leaves pods 20 bytes, not 50', () => {
  assert.equal(podMTU('auto', 1500, undefined, 'ipip'), 1480);
  assert.equal(podMTU('auto', 1500, undefined, 'vxlan'), 1450);
  // Other backends ignore the setting; encryption still wins.
  assert.equal(podMTU('vxlan', 1500, undefined, 'ipip'), 1450);
  assert.equal(podMTU('auto', 1500, 'wireguard', 'ipip'), 1440);
});

test('routing: a cluster MTU counts WireGuard by the family it rides (80 bytes on IPv6-only)', () => {
  const wg = {
    ...DEFAULT_CLUSTER_NETWORK,
    backend: 'vxlan' as const,
    encryption: 'wireguard' as const,
  };
  const v6only = { ...wg, clusterCIDR: 'fd00:10:244::/56', clusterCIDRs: ['fd00:10:244::/56'] };
  const dual = { ...wg, clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'] };
  assert.equal(clusterPodMTU(wg), 1440);
  assert.equal(clusterPodMTU(dual), 1440, 'dual-stack: WireGuard rides the IPv4 underlay');
  assert.equal(clusterPodMTU(v6only), 1420);
  assert.equal(clusterPodMTU({ ...v6only, encryption: undefined, backend: 'wireguard' }), 1420);
  // Without WireGuard the family changes nothing: the other tunnels ride IPv4.
  assert.equal(clusterPodMTU({ ...v6only, encryption: undefined }), 1450);
  // An agent's --backend override is counted instead of the cluster's backend.
  assert.equal(clusterPodMTU({ ...v6only, encryption: undefined }, 'host-gw'), 1500);
});

test('routing: the MTU a plan shows is the one the agent gives its pods', () => {
  const v6only = {
    ...DEFAULT_CLUSTER_NETWORK,
    clusterCIDR: 'fd00:10:244::/56',
    clusterCIDRs: ['fd00:10:244::/56'],
    encryption: 'wireguard' as const,
  };
  for (const spec of [DEFAULT_CLUSTER_NETWORK, v6only]) {
    const subnet = spec === v6only ? 'fd00:10:244:1::/64' : '10.244.1.0/24';
    assert.equal(nodeNetwork(spec, subnet, '172.31.1.1').mtu, clusterPodMTU(spec));
  }
});
