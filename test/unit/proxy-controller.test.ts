import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, Service } from '../../src/api/types.js';
import { currentServicePorts, parseProxyMode } from '../../src/agent/proxy.js';
import { UsageError } from '../../src/util/errors.js';

function pod(name: string, ip: string, ready: boolean, labels = { app: 'web' }): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels },
    spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: {
      phase: 'Running',
      podIP: ip,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

const web: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    clusterIP: '10.96.0.20',
    selector: { app: 'web' },
    ports: [{ name: 'http', port: 80, targetPort: 'http' }],
  },
};

test('service ports come from the shared endpoints derivation: ready, selected, named port', () => {
  const rules = currentServicePorts(
    [web],
    [
      pod('a', '10.244.1.5', true),
      pod('b', '10.244.2.5', false),
      pod('c', '10.244.3.5', true, { app: 'other' }),
    ],
  );
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

test('the proxy mode must be iptables or nftables, naming where it came from', () => {
  assert.equal(parseProxyMode('nftables', '--proxy'), 'nftables');
  assert.throws(
    () => parseProxyMode('ipvs', '--proxy'),
    (err: unknown) =>
      err instanceof UsageError &&
      err.message === '--proxy ipvs: the proxy mode must be iptables or nftables',
  );
});
