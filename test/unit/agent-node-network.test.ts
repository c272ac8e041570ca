import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CLUSTER_NETWORK } from '../../src/api/types.js';
import { nodeNetwork } from '../../src/agent/node-controller.js';
import { formatCidr } from '../../src/net/index.js';

test('agent-node-network: pods get the backend MTU, the DNS IP and domain of the cluster', () => {
  const net = { ...DEFAULT_CLUSTER_NETWORK, backend: 'vxlan' as const, mtu: 1500 };
  const n = nodeNetwork(net, '10.244.3.0/24', '172.31.1.3');
  assert.equal(formatCidr(n.podCIDR), '10.244.3.0/24');
  assert.equal(n.mtu, 1450);
  assert.deepEqual(n.dnsIPs, ['10.96.0.10']);
  assert.equal(n.domain, 'cluster.local');
  assert.equal(n.nodeIP, '172.31.1.3');
  // A --backend override on this agent wins over the ClusterNetwork's.
  assert.equal(nodeNetwork(net, '10.244.3.0/24', '172.31.1.3', 'host-gw').mtu, 1500);
  // A dual-stack cluster's pods get the DNS address of each family, primary first.
  const dual = { ...net, dnsIPs: ['10.96.0.10', 'fd00:10:96::a'] };
  assert.deepEqual(nodeNetwork(dual, '10.244.3.0/24', '172.31.1.3').dnsIPs, [
    '10.96.0.10',
    'fd00:10:96::a',
  ]);
});
