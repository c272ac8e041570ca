// Which addresses a trace follows in a dual-stack cluster: the destination's family picks the
// source pod's address, the service, the owning node's subnet and underlay address, and the
// cluster range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterNetwork, Node, Pod, Service } from '../../src/api/types.js';
import {
  clusterCIDRFor,
  defaultFamilyOf,
  dnsQuestionFor,
  nodeAddressFor,
  nodeOwns,
  podAddressFor,
  podWithAddress,
  serviceWithClusterIP,
} from '../../src/diagnose/trace-families.js';

const pod = (name: string, ips: string[]): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default' },
  spec: { containers: [] },
  status: { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
});

const node: Node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'node-2' },
  spec: { podCIDR: '10.244.2.0/24', podCIDRs: ['10.244.2.0/24', 'fd00:10:244:2::/64'] },
  status: {
    addresses: [
      { type: 'InternalIP', address: '172.31.2.2' },
      { type: 'InternalIP', address: 'fd00:172:31:2::2' },
    ],
  },
};

test('trace families: the source pod leaves from its address of the destination’s family', () => {
  const dual = pod('client', ['10.244.1.3', 'fd00:10:244:1::3']);
  assert.equal(podAddressFor(dual, 4), '10.244.1.3');
  assert.equal(podAddressFor(dual, 6), 'fd00:10:244:1::3');
  assert.equal(podAddressFor(pod('old', ['10.244.1.4']), 6), undefined);
  const pods = [dual, pod('echo', ['10.244.2.3', 'fd00:10:244:2::3'])];
  assert.equal(podWithAddress(pods, 'fd00:10:244:2::3')?.metadata.name, 'echo');
  assert.equal(podWithAddress(pods, 'fd00:10:244:2::9'), undefined);
});

test('trace families: a service is found by either cluster IP', () => {
  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20', 'fd00:10:96::14'], ports: [] },
  };
  assert.equal(serviceWithClusterIP([svc], 'fd00:10:96::14'), svc);
  assert.equal(serviceWithClusterIP([svc], '10.96.0.20'), svc);
  assert.equal(serviceWithClusterIP([svc], 'fd00:10:96::15'), undefined);
});

test('trace families: a node owns its subnets of both families and has an address per family', () => {
  assert.equal(nodeOwns(node, 'fd00:10:244:2::3'), true);
  assert.equal(nodeOwns(node, '10.244.2.3'), true);
  assert.equal(nodeOwns(node, 'fd00:10:244:3::3'), false);
  assert.equal(nodeAddressFor(node, 4), '172.31.2.2');
  assert.equal(nodeAddressFor(node, 6), 'fd00:172:31:2::2');
});

test('trace families: the cluster range of the family, else the primary one', () => {
  const spec = {
    clusterCIDR: '10.244.0.0/16',
    clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  } as ClusterNetwork['spec'];
  assert.equal(clusterCIDRFor(spec, 6), 'fd00:10:244::/56');
  assert.equal(clusterCIDRFor(spec, 4), '10.244.0.0/16');
  assert.equal(
    clusterCIDRFor({ clusterCIDR: '10.244.0.0/16' } as ClusterNetwork['spec'], 6),
    '10.244.0.0/16',
  );
});

test('trace families: a name resolves to the pod’s first family unless asked, by A or AAAA of the DNS of that family', () => {
  assert.equal(defaultFamilyOf(pod('dual', ['10.244.1.3', 'fd00:10:244:1::3'])), 4);
  assert.equal(defaultFamilyOf(pod('v6only', ['fd00:10:244:1::3'])), 6);
  assert.equal(defaultFamilyOf(pod('pending', [])), 4);
  const dual = {
    dnsIP: '10.96.0.10',
    dnsIPs: ['10.96.0.10', 'fd00:10:96::a'],
  } as ClusterNetwork['spec'];
  assert.deepEqual(dnsQuestionFor(dual, 4), { type: 'A', server: '10.96.0.10' });
  assert.deepEqual(dnsQuestionFor(dual, 6), { type: 'AAAA', server: 'fd00:10:96::a' });
  // An IPv4-only cluster's DNS is asked for AAAA over IPv4 (and has none to give).
  const v4 = { dnsIP: '10.96.0.10' } as ClusterNetwork['spec'];
  assert.deepEqual(dnsQuestionFor(v4, 6), { type: 'AAAA', server: '10.96.0.10' });
  const v6 = { dnsIP: 'fd00:10:96::a' } as ClusterNetwork['spec'];
  assert.deepEqual(dnsQuestionFor(v6, 6), { type: 'AAAA', server: 'fd00:10:96::a' });
});
