import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceEndpoints, toEndpointsObject } from '../../src/api/endpoints.js';
import { endpointsTable } from '../../src/api/table.js';
import type { Pod, Service } from '../../src/api/types.js';
import { DataError } from '../../src/util/errors.js';

function pod(
  name: string,
  ip: string | undefined,
  opts: Partial<{
    ns: string;
    labels: Record<string, string>;
    ready: boolean;
    phase: Pod['status'] extends infer S ? (S extends { phase?: infer P } ? P : never) : never;
    node: string;
    portName: string;
    port: number;
  }> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: opts.ns ?? 'shop', labels: opts.labels ?? { app: 'web' } },
    spec: {
      nodeName: opts.node ?? 'node-1',
      hostname: name,
      subdomain: 'web',
      containers: [
        {
          name: 'c',
          ports: opts.portName
            ? [{ name: opts.portName, containerPort: opts.port ?? 8080, protocol: 'TCP' }]
            : [],
        },
      ],
    },
    status: {
      phase: opts.phase ?? 'Running',
      podIP: ip,
      conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }],
    },
  };
}

const service: Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
      { name: 'metrics', port: 9000, targetPort: 9100, protocol: 'TCP' },
    ],
  },
};

test('endpoints: ready pods of the same namespace matching the selector, ordered by IP', () => {
  const set = serviceEndpoints(service, [
    pod('b', '10.244.1.10', { portName: 'http', port: 8080 }),
    pod('a', '10.244.1.9', { portName: 'http', port: 8081, node: 'node-2' }),
    pod('other-ns', '10.244.1.11', { ns: 'dev', portName: 'http' }),
    pod('other-app', '10.244.1.12', { labels: { app: 'db' }, portName: 'http' }),
    pod('no-ip', undefined, { portName: 'http' }),
    pod('not-ready', '10.244.1.13', { ready: false, portName: 'http' }),
    pod('done', '10.244.1.14', { phase: 'Succeeded', portName: 'http' }),
  ]);
  assert.deepEqual(
    set.addresses.map((a) => a.podName),
    ['a', 'b'],
  );
  assert.deepEqual(
    set.ports[0]!.endpoints.map((e) => `${e.ip}:${e.port}@${e.nodeName}`),
    ['10.244.1.9:8081@node-2', '10.244.1.10:8080@node-1'],
  );
  assert.deepEqual(
    set.ports[1]!.endpoints.map((e) => `${e.ip}:${e.port}`),
    ['10.244.1.9:9100', '10.244.1.10:9100'],
  );
  assert.deepEqual(
    { ...set.ports[0]!.endpoints[0]! },
    {
      ip: '10.244.1.9',
      podName: 'a',
      nodeName: 'node-2',
      hostname: 'a',
      subdomain: 'web',
      ready: true,
      port: 8081,
    },
  );
});

test('endpoints: a pod lacking the named port gives no endpoint for that port only', () => {
  const set = serviceEndpoints(service, [
    pod('a', '10.244.1.9'),
    pod('b', '10.244.1.10', { portName: 'http' }),
  ]);
  assert.deepEqual(
    set.ports[0]!.endpoints.map((e) => e.podName),
    ['b'],
  );
  assert.deepEqual(
    set.ports[1]!.endpoints.map((e) => e.podName),
    ['a', 'b'],
  );
});

test('endpoints: not-ready pods only on request, marked not ready', () => {
  const pods = [pod('a', '10.244.1.9', { ready: false, portName: 'http' })];
  assert.equal(serviceEndpoints(service, pods).addresses.length, 0);
  const all = serviceEndpoints(service, pods, { includeNotReady: true });
  assert.equal(all.addresses[0]!.ready, false);
  assert.equal(all.ports[0]!.endpoints[0]!.ready, false);
});

test('endpoints: no selector or ExternalName means no endpoints; targetPort defaults to port', () => {
  const noSelector: Service = { ...service, spec: { ports: [{ port: 80 }] } };
  assert.deepEqual(serviceEndpoints(noSelector, [pod('a', '10.244.1.9')]).ports[0]!.endpoints, []);
  const plain: Service = { ...service, spec: { selector: { app: 'web' }, ports: [{ port: 80 }] } };
  assert.equal(serviceEndpoints(plain, [pod('a', '10.244.1.9')]).ports[0]!.endpoints[0]!.port, 80);
  const ext: Service = {
    ...service,
    spec: { type: 'ExternalName', externalName: 'x.example.com', selector: { app: 'web' } },
  };
  assert.deepEqual(serviceEndpoints(ext, [pod('a', '10.244.1.9')]).addresses, []);
});

test('endpoints: a pod without conditions counts as ready when Running', () => {
  const p = pod('a', '10.244.1.9');
  delete p.status!.conditions;
  assert.equal(serviceEndpoints(service, [p]).addresses.length, 1);
  p.status!.phase = 'Pending';
  assert.equal(serviceEndpoints(service, [p]).addresses.length, 0);
});

test('endpoints: the Kubernetes Endpoints shape groups pods by their resolved ports', () => {
  const set = serviceEndpoints(service, [
    pod('a', '10.244.1.9', { portName: 'http', port: 8081, node: 'node-2' }),
    pod('b', '10.244.1.10', { portName: 'http', port: 8080 }),
    pod('c', '10.244.1.11', { portName: 'http', port: 8080 }),
  ]);
  const obj = toEndpointsObject(set);
  assert.deepEqual(obj.metadata, { name: 'web', namespace: 'shop' });
  assert.deepEqual(
    obj.subsets.map((s) => [
      s.addresses.map((a) => a.ip),
      s.ports.map((p) => `${p.name}:${p.port}`),
    ]),
    [
      [['10.244.1.9'], ['http:8081', 'metrics:9100']],
      [
        ['10.244.1.10', '10.244.1.11'],
        ['http:8080', 'metrics:9100'],
      ],
    ],
  );
  assert.deepEqual(obj.subsets[0]!.addresses[0]!.targetRef, {
    kind: 'Pod',
    name: 'a',
    namespace: 'shop',
  });
  assert.equal(
    endpointsTable([obj]),
    [
      'NAME   ENDPOINTS',
      'web    10.244.1.9:8081,10.244.1.9:9100,10.244.1.10:8080 + 3 more...',
    ].join('\n'),
  );
});

test('endpoints: IPv4 before IPv6, by value; a malformed pod IP is a data error naming the pod', () => {
  const set = serviceEndpoints(service, [
    pod('v6', 'fd00::a', { portName: 'http' }),
    pod('ten', '10.244.1.10', { portName: 'http' }),
    pod('nine', '10.244.1.9', { portName: 'http' }),
  ]);
  assert.deepEqual(
    set.addresses.map((a) => a.podName),
    ['nine', 'ten', 'v6'],
  );
  assert.throws(
    () => serviceEndpoints(service, [pod('bad', '10.244.1', { portName: 'http' })]),
    (e: Error) =>
      e instanceof DataError &&
      e.exitCode === 1 &&
      e.message === 'Pod shop/bad: status.podIP "10.244.1": not an IPv4 or IPv6 address',
  );
});
