// Who may have outside names resolved: the cluster's ranges, its nodes and the operator's extra
// ranges; an IPv4 client on a dual-stack socket judged by its IPv4 address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterNetwork, Node } from '../../src/api/types.js';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { mayRecurse, recursionRanges } from '../../src/dns/recursion.js';
import { parseCidr } from '../../src/net/index.js';

const network = {
  clusterCIDR: '10.32.0.0/16',
  serviceCIDR: '10.100.0.0/16',
} as ClusterNetwork['spec'];

test('dns recursion: pods, services, nodes and extra ranges may; others may not', () => {
  const ranges = recursionRanges(network, ['172.31.1.1'], [parseCidr('198.51.100.0/24')]);
  for (const inside of ['10.32.4.5', '10.100.0.10', '172.31.1.1', '198.51.100.7']) {
    assert.equal(mayRecurse(ranges, inside), true, inside);
  }
  for (const outside of ['10.244.1.1', '172.31.1.2', '203.0.113.9', '', 'not-an-ip']) {
    assert.equal(mayRecurse(ranges, outside), false, outside);
  }
  assert.equal(mayRecurse(ranges, '::ffff:10.32.0.9'), true, 'mapped IPv4 on a udp6 socket');
});

test('dns recursion: before the ClusterNetwork is read, the default ranges hold', () => {
  const ranges = recursionRanges(undefined, [], []);
  assert.equal(mayRecurse(ranges, '10.244.3.3'), true);
  assert.equal(mayRecurse(ranges, '10.96.0.10'), true);
  assert.equal(mayRecurse(ranges, '192.0.2.2'), false);
});

test('dns recursion: the index follows node addresses without touching the answer version', () => {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll([]);
  const answers = index.version;
  const ranges = index.rangesVersion;
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', annotations: { 'podnet.io/node-ip': '172.31.1.1' } },
    spec: {},
    status: {
      addresses: [
        { type: 'InternalIP', address: '192.168.7.1' },
        { type: 'Hostname', address: 'node-1' },
      ],
    },
  };
  index.apply(node);
  assert.deepEqual(index.nodeAddresses().sort(), ['172.31.1.1', '192.168.7.1']);
  assert.equal(index.version, answers, 'no cached answer is dropped for a node');
  assert.ok(index.rangesVersion > ranges);
  const after = index.rangesVersion;
  index.apply(node);
  assert.equal(index.rangesVersion, after, 'an unchanged node changes nothing');
  index.remove('Node', undefined, 'node-1');
  assert.deepEqual(index.nodeAddresses(), []);
});
