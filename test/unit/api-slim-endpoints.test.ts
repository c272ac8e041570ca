// Slices and Endpoints as the agent caches them: whole (the elected agent writes them back),
// with what their endpoints repeat held once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shareEndpointSlice, shareEndpoints } from '../../src/api/slim-endpoints.js';
import { Interner } from '../../src/api/slim-intern.js';
import type { EndpointSlice, Endpoints, Pod } from '../../src/api/types.js';

const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function pod(i: number): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `web-${i}`, namespace: 'shop', uid: `uid-${i}` },
    spec: { nodeName: 'node-1', containers: [{ name: 'app' }] },
    status: { podIP: `10.244.1.${i}`, podIPs: [{ ip: `10.244.1.${i}` }] },
  };
}

function slice(name: string, pods: number[]): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: 'shop',
      uid: `slice-${name}`,
      labels: { 'kubernetes.io/service-name': name },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: `svc-${name}` }],
    } as EndpointSlice['metadata'],
    addressType: 'IPv4',
    endpoints: pods.map((i) => ({
      addresses: [`10.244.1.${i}`],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'node-1',
      zone: 'zone-a',
      targetRef: { kind: 'Pod', namespace: 'shop', name: `web-${i}`, uid: `uid-${i}` },
    })),
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
  };
}

const cached = new Map([1, 2, 3].map((i) => [`shop/web-${i}`, pod(i)]));
const podOf = (namespace: string, name: string) => cached.get(`${namespace}/${name}`);

test('shared slice: nothing of the slice is lost, since the elected agent writes it back', () => {
  const original = slice('web', [1, 2, 3, 4]);
  const kept = shareEndpointSlice(copy(original), new Interner(), podOf);
  assert.deepEqual(kept, original);
});

test('shared slice: endpoints and slices hold one conditions and one ports object', () => {
  const shared = new Interner();
  const a = shareEndpointSlice(copy(slice('web', [1, 2, 3])), shared, podOf);
  const b = shareEndpointSlice(copy(slice('api', [4, 5])), shared, podOf);
  const conditions = new Set([...a.endpoints, ...b.endpoints].map((e) => e.conditions));
  assert.equal(conditions.size, 1);
  assert.equal(a.ports, b.ports);
  assert.ok(Object.isFrozen(a.endpoints[0]!.conditions));
});

test('shared Endpoints: nothing is lost, and subsets of equal ports hold one ports object', () => {
  const endpoints = (name: string): Endpoints => ({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name,
      namespace: 'shop',
      labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' },
    },
    subsets: [
      {
        addresses: [1, 2].map((i) => ({
          ip: `10.244.1.${i}`,
          nodeName: 'node-1',
          targetRef: { kind: 'Pod', namespace: 'shop', name: `web-${i}`, uid: `uid-${i}` },
        })),
        notReadyAddresses: [{ ip: '10.244.1.9', nodeName: 'node-2' }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ],
  });
  const shared = new Interner();
  const a = shareEndpoints(copy(endpoints('web')), shared, podOf);
  const b = shareEndpoints(copy(endpoints('api')), shared, podOf);
  assert.deepEqual(a, endpoints('web'));
  assert.equal(a.subsets![0]!.ports, b.subsets![0]!.ports);
});

test('shared slice: a reference to another pod of the same name keeps its own uid', () => {
  const stale = slice('web', [1]);
  stale.endpoints[0]!.targetRef!.uid = 'uid-of-an-earlier-web-1';
  const kept = shareEndpointSlice(copy(stale), new Interner(), podOf);
  assert.equal(kept.endpoints[0]!.targetRef!.uid, 'uid-of-an-earlier-web-1');
});
