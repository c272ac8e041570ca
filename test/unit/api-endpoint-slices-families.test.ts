// EndpointSlices per family: a dual-stack service gets an IPv4 slice and an IPv6 slice from
// its pods' status.podIPs; a single-family service only its own family; the legacy Endpoints
// keep the primary family, as Kubernetes' controllers do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredEndpoints, planEndpointSlices } from '../../src/api/endpoint-slices.js';
import { validateObject } from '../../src/api/validate.js';
import type { IPFamily, Pod, Service } from '../../src/api/types.js';

function pod(name: string, ips: string[]): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels: { app: 'web' } },
    spec: { nodeName: 'node-1', containers: [{ name: 'c' }] },
    status: {
      phase: 'Running',
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

function service(ipFamilies?: IPFamily[]): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      clusterIP: ipFamilies?.[0] === 'IPv6' ? 'fd00:10:96::20' : '10.96.0.20',
      ...(ipFamilies ? { ipFamilies } : {}),
      selector: { app: 'web' },
      ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
    },
  };
}

const pods = [
  pod('a', ['10.244.1.5', 'fd00:10:244:1::5']),
  pod('b', ['10.244.2.7', 'fd00:10:244:2::7']),
];

function addressesByType(svc: Service, from: Pod[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const slice of planEndpointSlices(svc, from, []).create) {
    out[slice.addressType] = slice.endpoints.flatMap((e) => e.addresses);
  }
  return out;
}

test('slices per family: a dual-stack service gets one slice per family from podIPs', () => {
  assert.deepEqual(addressesByType(service(['IPv4', 'IPv6']), pods), {
    IPv4: ['10.244.1.5', '10.244.2.7'],
    IPv6: ['fd00:10:244:1::5', 'fd00:10:244:2::7'],
  });
  for (const slice of planEndpointSlices(service(['IPv4', 'IPv6']), pods, []).create) {
    const r = validateObject(slice);
    assert.deepEqual(r.errors, [], `${slice.addressType} slice is a valid EndpointSlice`);
  }
});

test('slices per family: a single-family service gets only its family', () => {
  assert.deepEqual(addressesByType(service(['IPv6']), pods), {
    IPv6: ['fd00:10:244:1::5', 'fd00:10:244:2::7'],
  });
  assert.deepEqual(addressesByType(service(['IPv4']), pods), {
    IPv4: ['10.244.1.5', '10.244.2.7'],
  });
  // A service stored before ipFamilies existed keeps its cluster IP's family.
  assert.deepEqual(addressesByType(service(), pods), { IPv4: ['10.244.1.5', '10.244.2.7'] });
});

test('slices per family: an IPv6 service without pods keeps an empty IPv6 slice', () => {
  const [placeholder] = planEndpointSlices(service(['IPv6']), [], []).create;
  assert.equal(placeholder!.addressType, 'IPv6');
  assert.deepEqual(placeholder!.endpoints, []);
});

test('slices per family: a family dropped from the service takes its slices away', () => {
  const dual = planEndpointSlices(service(['IPv4', 'IPv6']), pods, []).create;
  const plan = planEndpointSlices(service(['IPv4']), pods, dual);
  assert.deepEqual(
    plan.delete.map((s) => s.addressType),
    ['IPv6'],
  );
  assert.deepEqual(plan.create, []);
});

test('endpoints per family: the legacy object lists the primary family only', () => {
  const ips = (svc: Service) =>
    desiredEndpoints(svc, pods).subsets?.flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
  assert.deepEqual(ips(service(['IPv4', 'IPv6'])), ['10.244.1.5', '10.244.2.7']);
  assert.deepEqual(ips(service(['IPv6'])), ['fd00:10:244:1::5', 'fd00:10:244:2::7']);
});

test('pods per family: status.podIPs takes both families, status.podIP stays the first', () => {
  const r = validateObject(pod('a', ['10.244.1.5', 'fd00:10:244:1::5']));
  assert.deepEqual(r.errors, []);
  const three = validateObject(pod('a', ['10.244.1.5', 'fd00::5', 'fd00::6']));
  assert.match(three.errors.join('\n'), /status\.podIPs: must list at most one entry per family/);
});
