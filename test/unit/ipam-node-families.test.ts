// Node IPAM per family: one subnet lease per family of the cluster, taken again by the same
// node after a restart, and each family's exhaustion reported on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { DEFAULT_CLUSTER_NETWORK, type ClusterNetwork } from '../../src/api/types.js';
import { formatCidr, parseCidr } from '../../src/net/index.js';
import {
  acquireNodeSubnets,
  releaseNodeSubnets,
  subnetLeaseKey,
  subnetOfLeaseKey,
} from '../../src/ipam/subnet-lease.js';
import { registeredNode } from '../../src/agent/node-controller.js';

const dual: ClusterNetwork['spec'] = {
  ...DEFAULT_CLUSTER_NETWORK,
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/112'],
};
const memoryStore = (): Promise<Store> => openStore('sqlite::memory:');
const self = (node: string) => ({ node, publicIP: '172.31.1.2' });

test('ipam-node-families: an IPv6 lease key keeps its colons and round-trips', () => {
  const subnet = parseCidr('fd00:10:244:1::/64');
  assert.equal(subnetLeaseKey(subnet), '/podnet/leases/subnets/fd00:10:244:1::-64');
  assert.equal(formatCidr(subnetOfLeaseKey(subnetLeaseKey(subnet))!), 'fd00:10:244:1::/64');
});

test('ipam-node-families: a node leases one subnet per family, IPv4 first', async () => {
  const store = await memoryStore();
  const a = await acquireNodeSubnets(store, self('a'), dual);
  const b = await acquireNodeSubnets(store, self('b'), dual);
  assert.deepEqual(
    a.map((l) => l.subnet),
    ['10.244.0.0/24', 'fd00:10:244::/64'],
  );
  assert.deepEqual(
    b.map((l) => l.subnet),
    ['10.244.1.0/24', 'fd00:10:244:1::/64'],
  );
  const sized = await acquireNodeSubnets(store, self('c'), { ...dual, nodeSubnetPrefixIPv6: 80 });
  assert.equal(sized[1]!.subnet, 'fd00:10:244:2::/80');
});

test('ipam-node-families: leasing again after a restart is idempotent per family', async () => {
  const store = await memoryStore();
  const first = await acquireNodeSubnets(store, self('a'), dual);
  await acquireNodeSubnets(store, self('b'), dual);
  const again = await acquireNodeSubnets(store, self('a'), dual);
  assert.deepEqual(
    again.map((l) => l.subnet),
    first.map((l) => l.subnet),
  );
  assert.equal((await store.list('/podnet/leases/subnets/')).items.length, 4);
  assert.deepEqual(
    await releaseNodeSubnets(store, 'a'),
    first.map((l) => l.subnet),
  );
});

test('ipam-node-families: an IPv4-only cluster leases exactly one IPv4 subnet', async () => {
  const store = await memoryStore();
  const leases = await acquireNodeSubnets(store, self('a'), DEFAULT_CLUSTER_NETWORK);
  assert.deepEqual(
    leases.map((l) => [l.key, l.subnet]),
    [['/podnet/leases/subnets/10-244-0-0-24', '10.244.0.0/24']],
  );
});

test('ipam-node-families: each family runs out on its own, naming its CIDR and size', async () => {
  const v6Small = { ...dual, clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/63'] };
  const store = await memoryStore();
  await acquireNodeSubnets(store, self('a'), v6Small);
  await acquireNodeSubnets(store, self('b'), v6Small);
  await assert.rejects(
    acquireNodeSubnets(store, self('c'), v6Small),
    /cluster CIDR fd00:10:244::\/63 has no free \/64 node subnet: it fits 2 nodes and all are leased \(use a larger clusterCIDR or nodeSubnetPrefixIPv6\)/,
  );
  const v4Small = { ...dual, clusterCIDRs: ['10.244.0.0/24', 'fd00:10:244::/56'] };
  const other = await memoryStore();
  await acquireNodeSubnets(other, self('a'), { ...v4Small, clusterCIDR: '10.244.0.0/24' });
  await assert.rejects(
    acquireNodeSubnets(other, self('b'), { ...v4Small, clusterCIDR: '10.244.0.0/24' }),
    /cluster CIDR 10\.244\.0\.0\/24 has no free \/24 node subnet: it fits 1 nodes/,
  );
});

test('ipam-node-families: the Node lists every family in spec.podCIDRs, podCIDR first', () => {
  const reg = { name: 'a', nodeIP: '172.31.1.2', podCIDR: '10.244.0.0/24', kubernetes: false };
  assert.deepEqual(registeredNode(reg, undefined).spec, {
    podCIDR: '10.244.0.0/24',
    podCIDRs: ['10.244.0.0/24'],
  });
  const dualNode = registeredNode({ ...reg, secondaryPodCIDRs: ['fd00:10:244::/64'] }, undefined);
  assert.deepEqual(dualNode.spec, {
    podCIDR: '10.244.0.0/24',
    podCIDRs: ['10.244.0.0/24', 'fd00:10:244::/64'],
  });
});
