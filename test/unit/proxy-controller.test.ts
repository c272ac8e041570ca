import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planEndpointSlices } from '../../src/api/endpoint-slices.js';
import type { EndpointSlice, Pod, Service } from '../../src/api/types.js';
import { currentServicePorts, parseProxyMode } from '../../src/agent/proxy.js';
import { UsageError } from '../../src/util/errors.js';
import { webPod, webService } from '../helpers/web-objects.js';

function pod(name: string, ip: string, ready: boolean, labels = { app: 'web' }): Pod {
  return webPod('shop', name, ip, ready, { labels });
}

const web = webService('shop', [{ name: 'http', port: 80, targetPort: 'http' }]);

function slicesOf(svc: Service, pods: Pod[]): EndpointSlice[] {
  return planEndpointSlices(svc, pods, []).create;
}

test('service ports come from the slices the controller writes: ready, selected, named port', () => {
  const slices = slicesOf(web, [
    pod('a', '10.244.1.5', true),
    pod('b', '10.244.2.5', false),
    pod('c', '10.244.3.5', true, { app: 'other' }),
  ]);
  const rules = currentServicePorts([web], slices);
  assert.deepEqual(rules, [
    {
      name: 'shop/web:http',
      clusterIP: '10.96.0.20',
      protocol: 'TCP',
      port: 80,
      endpoints: [{ ip: '10.244.1.5', port: 8080 }],
    },
  ]);
});

test('services and slices another proxy handles, and headless slices, are not programmed', () => {
  const slices = slicesOf(web, [pod('a', '10.244.1.5', true)]);
  const other = {
    ...web,
    metadata: { ...web.metadata, labels: { 'service.kubernetes.io/service-proxy-name': 'x' } },
  };
  assert.deepEqual(currentServicePorts([other], slices), []);
  const headlessSlices = slices.map((s) => ({
    ...s,
    metadata: {
      ...s.metadata,
      labels: { ...s.metadata.labels, 'service.kubernetes.io/headless': '' },
    },
  }));
  assert.deepEqual(currentServicePorts([web], headlessSlices)[0]!.endpoints, []);
});

test('a selector-less service is load-balanced over a hand-written slice (conditions left out)', () => {
  const manual: Service = { ...web, spec: { ...web.spec, selector: undefined } };
  const slice: EndpointSlice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'web-manual',
      namespace: 'shop',
      labels: { 'kubernetes.io/service-name': 'web' },
    },
    addressType: 'IPv4',
    endpoints: [
      { addresses: ['192.0.2.10'] },
      { addresses: ['192.0.2.11'], conditions: { ready: false } },
    ],
    ports: [{ name: 'http', port: 9000, protocol: 'TCP' }],
  };
  assert.deepEqual(currentServicePorts([manual], [slice])[0]!.endpoints, [
    { ip: '192.0.2.10', port: 9000 },
  ]);
});

test('the proxy mode must be iptables or nftables, naming where it came from', () => {
  assert.equal(parseProxyMode('nftables', '--proxy'), 'nftables');
  assert.throws(
    () => parseProxyMode('ipvs', '--proxy'),
    (err: unknown) =>
      err instanceof UsageError &&
      err.message === '--proxy ipvs: the proxy mode must be iptables or nftables',
  );
});
