// What an agent keeps of a Node: every field its controllers read, none of what a Kubernetes
// API's Node carries besides (images, capacity, system info, heartbeats, others' annotations).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slimNode } from '../../src/api/slim-node.js';
import { Interner } from '../../src/api/slim-intern.js';
import type { Node } from '../../src/api/types.js';

const fromKubernetes = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    name: 'ip-10-0-1-23.ec2.internal',
    uid: 'u-7',
    resourceVersion: '991',
    creationTimestamp: '2026-01-01T00:00:00Z',
    labels: {
      'topology.kubernetes.io/zone': 'eu-west-1a',
      'kubernetes.io/hostname': 'ip-10-0-1-23',
    },
    annotations: {
      'podnet.io/vtep-mac': '0e:5c:00:00:00:07',
      'podnet.io/network-settings': '{"generation":"g2","proxyMode":"nftables"}',
      'node.alpha.kubernetes.io/ttl': '0',
      'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
    },
    managedFields: [{ manager: 'kubelet', operation: 'Update', fieldsV1: { 'f:status': {} } }],
  },
  spec: {
    podCIDR: '10.244.7.0/24',
    podCIDRs: ['10.244.7.0/24', 'fd00:10:244:7::/64'],
    providerID: 'aws:///eu-west-1a/i-0abc',
    taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }],
  },
  status: {
    addresses: [
      { type: 'InternalIP', address: '10.0.1.23' },
      { type: 'Hostname', address: 'ip-10-0-1-23' },
    ],
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'KubeletReady',
        message: 'kubelet is posting ready status',
        lastHeartbeatTime: '2026-01-02T10:00:07Z',
        lastTransitionTime: '2026-01-01T00:01:00Z',
      },
    ],
    capacity: { cpu: '2', memory: '8029472Ki', pods: '110' },
    allocatable: { cpu: '1930m', memory: '7312672Ki', pods: '110' },
    nodeInfo: { kernelVersion: '6.1.0', kubeletVersion: 'v1.32.1', osImage: 'Debian 12' },
    images: [{ names: ['registry.k8s.io/pause:3.10'], sizeBytes: 320368 }],
  },
} as unknown as Node;

test('slim node: keeps name, labels, podnet annotations, subnets, provider, addresses, conditions', () => {
  assert.deepEqual(slimNode(fromKubernetes, new Interner()), {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: 'ip-10-0-1-23.ec2.internal',
      uid: 'u-7',
      resourceVersion: '991',
      labels: {
        'topology.kubernetes.io/zone': 'eu-west-1a',
        'kubernetes.io/hostname': 'ip-10-0-1-23',
      },
      annotations: {
        'podnet.io/vtep-mac': '0e:5c:00:00:00:07',
        'podnet.io/network-settings': '{"generation":"g2","proxyMode":"nftables"}',
      },
    },
    spec: {
      podCIDR: '10.244.7.0/24',
      podCIDRs: ['10.244.7.0/24', 'fd00:10:244:7::/64'],
      providerID: 'aws:///eu-west-1a/i-0abc',
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: '10.0.1.23' },
        { type: 'Hostname', address: 'ip-10-0-1-23' },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastTransitionTime: '2026-01-01T00:01:00Z',
        },
      ],
    },
  });
});

test("slim node: a lab's node, which has only what podnet reads, is kept as it is", () => {
  const lab: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-1', labels: { 'kubernetes.io/hostname': 'node-1' } },
    spec: { podCIDR: '10.244.1.0/24' },
  };
  assert.deepEqual(slimNode(lab, new Interner()), lab);
});
