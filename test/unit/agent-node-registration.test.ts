// How the agent registers its Node on podnet's store and on a Kubernetes cluster, and where
// every reader finds a node's pod subnet and address afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeInternalIP, nodePodCIDR } from '../../src/api/node-network.js';
import { ANNOTATION_NODE_IP, ANNOTATION_POD_CIDR, type Node } from '../../src/api/types.js';
import { registeredNode, type NodeRegistration } from '../../src/agent/node-controller.js';
import { hostFromNode } from '../../src/routing/peers.js';

const reg: NodeRegistration = {
  name: 'node-1',
  nodeIP: '172.31.1.1',
  podCIDR: '10.244.1.0/24',
  zone: 'a',
  kubernetes: false,
};

/** A Node as kubelet registers it, with or without a subnet from node IPAM. */
function kubeletNode(podCIDR?: string): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', labels: { 'kubernetes.io/os': 'linux' } },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: { addresses: [{ type: 'InternalIP', address: '192.168.0.7' }] },
  };
}

test('agent-node-registration: on podnet’s store the subnet and address are the Node’s own fields', () => {
  const node = registeredNode(reg, undefined);
  assert.equal(node.spec.podCIDR, '10.244.1.0/24');
  assert.equal(node.metadata.annotations?.[ANNOTATION_POD_CIDR], undefined);
  assert.equal(node.status?.addresses?.[0]?.address, '172.31.1.1');
  assert.equal(nodePodCIDR(node), '10.244.1.0/24');
  assert.equal(nodeInternalIP(node), '172.31.1.1');
});

test('agent-node-registration: on Kubernetes a leased subnet is an annotation, spec.podCIDR untouched', () => {
  const node = registeredNode({ ...reg, kubernetes: true }, kubeletNode());
  assert.deepEqual(node.spec, {});
  assert.equal(node.metadata.annotations?.[ANNOTATION_POD_CIDR], '10.244.1.0/24');
  assert.equal(node.metadata.annotations?.[ANNOTATION_NODE_IP], '172.31.1.1');
  // kubelet's addresses are left as they are; the agent's own address is what peers route to.
  assert.deepEqual(node.status?.addresses, [{ type: 'InternalIP', address: '192.168.0.7' }]);
  assert.equal(node.metadata.labels?.['kubernetes.io/os'], 'linux');
  assert.equal(node.metadata.labels?.['topology.kubernetes.io/zone'], 'a');
  const host = hostFromNode(node);
  assert.equal(host?.podCIDR, '10.244.1.0/24');
  assert.equal(host?.ip, '172.31.1.1');
});

test('agent-node-registration: on Kubernetes a subnet node IPAM allocated stays the one read', () => {
  const node = registeredNode(
    { ...reg, podCIDR: '10.244.9.0/24', kubernetes: true },
    kubeletNode('10.244.9.0/24'),
  );
  assert.equal(node.metadata.annotations?.[ANNOTATION_POD_CIDR], undefined);
  assert.equal(nodePodCIDR(node), '10.244.9.0/24');
});

test('agent-node-registration: a Node no kubelet registered gets addresses on Kubernetes too', () => {
  const node = registeredNode({ ...reg, kubernetes: true }, undefined);
  assert.equal(node.spec.podCIDR, undefined);
  assert.equal(nodePodCIDR(node), '10.244.1.0/24');
  assert.equal(node.status?.addresses?.[0]?.address, '172.31.1.1');
});

test('agent-node-registration: spec.podCIDR wins over the annotation, podCIDRs when alone', () => {
  const both = kubeletNode('10.244.9.0/24');
  both.metadata.annotations = { [ANNOTATION_POD_CIDR]: '10.244.1.0/24' };
  assert.equal(nodePodCIDR(both), '10.244.9.0/24');
  const listOnly = kubeletNode();
  listOnly.spec = { podCIDRs: ['10.244.5.0/24'] };
  assert.equal(nodePodCIDR(listOnly), '10.244.5.0/24');
  assert.equal(nodePodCIDR(kubeletNode()), undefined);
  assert.equal(nodeInternalIP(kubeletNode()), '192.168.0.7');
});
