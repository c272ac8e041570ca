import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_ENDPOINTS_PER_SLICE,
  desiredEndpoints,
  planEndpointSlices,
} from '../../src/api/endpoint-slices.js';
import { endpointsFromSlices } from '../../src/api/slice-endpoints.js';
import { objectTable } from '../../src/api/table.js';
import type { EndpointSlice, Pod, Service } from '../../src/api/types.js';
import { DataError } from '../../src/util/errors.js';

function pod(
  name: string,
  ip: string,
  opts: Partial<{
    labels: Record<string, string>;
    ready: boolean;
    deleting: boolean;
    node: string;
    port: number;
    phase: 'Running' | 'Succeeded';
  }> = {},
): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'shop',
      uid: `uid-${name}`,
      labels: opts.labels ?? { app: 'web' },
      ...(opts.deleting ? { deletionTimestamp: '2025-01-01T00:00:00Z' } : {}),
    },
    spec: {
      nodeName: opts.node ?? 'node-1',
      hostname: name,
      subdomain: 'web',
      containers: [
        { name: 'c', ports: [{ name: 'http', containerPort: opts.port ?? 8080, protocol: 'TCP' }] },
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
  metadata: { name: 'web', namespace: 'shop', labels: { tier: 'front' } },
  spec: {
    clusterIP: '10.96.0.20',
    selector: { app: 'web' },
    ports: [
      { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
      { name: 'metrics', port: 9000, targetPort: 9100, protocol: 'TCP' },
    ],
  },
};

const zoneNames: Record<string, string> = { 'node-1': 'zone-a', 'node-2': 'zone-b' };
const zones = (node: string) => (node in zoneNames ? { zone: zoneNames[node] } : undefined);

/** The plan's writes applied to `stored`, with revisions, as the store would hold them. */
function applied(stored: EndpointSlice[], plan: ReturnType<typeof planEndpointSlices>) {
  const gone = new Set(plan.delete.map((s) => s.metadata.name));
  const byName = new Map(
    stored.filter((s) => !gone.has(s.metadata.name)).map((s) => [s.metadata.name, s]),
  );
  for (const s of [...plan.create, ...plan.update]) {
    byName.set(s.metadata.name, { ...s, metadata: { ...s.metadata, resourceVersion: '7' } });
  }
  return [...byName.values()];
}

test('slices: selected pods of the service, with conditions, node, zone, targetRef and ports', () => {
  const plan = planEndpointSlices(
    service,
    [
      pod('b', '10.244.2.5', { node: 'node-2', ready: false }),
      pod('a', '10.244.1.5'),
      pod('other', '10.244.1.6', { labels: { app: 'db' } }),
      pod('done', '10.244.1.7', { phase: 'Succeeded' }),
    ],
    [],
    zones,
  );
  assert.equal(plan.update.length + plan.delete.length, 0);
  assert.equal(plan.create.length, 1);
  const slice = plan.create[0]!;
  assert.equal(slice.metadata.namespace, 'shop');
  assert.match(slice.metadata.name, /^web-[0-9a-f]{8}$/);
  assert.deepEqual(slice.metadata.labels, {
    tier: 'front',
    'kubernetes.io/service-name': 'web',
    'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.podnet.io',
  });
  assert.equal(slice.addressType, 'IPv4');
  assert.deepEqual(slice.ports, [
    { name: 'http', protocol: 'TCP', port: 8080 },
    { name: 'metrics', protocol: 'TCP', port: 9100 },
  ]);
  assert.deepEqual(slice.endpoints, [
    {
      addresses: ['10.244.1.5'],
      conditions: { ready: true, serving: true, terminating: false },
      hostname: 'a',
      nodeName: 'node-1',
      zone: 'zone-a',
      targetRef: { kind: 'Pod', namespace: 'shop', name: 'a', uid: 'uid-a' },
    },
    {
      addresses: ['10.244.2.5'],
      conditions: { ready: false, serving: false, terminating: false },
      hostname: 'b',
      nodeName: 'node-2',
      zone: 'zone-b',
      targetRef: { kind: 'Pod', namespace: 'shop', name: 'b', uid: 'uid-b' },
    },
  ]);
});

test('slices: a pod being deleted is terminating, not ready, serving as its readiness says', () => {
  const [slice] = planEndpointSlices(
    service,
    [
      pod('a', '10.244.1.5', { deleting: true }),
      pod('b', '10.244.1.6', { deleting: true, ready: false }),
    ],
    [],
  ).create;
  assert.deepEqual(
    slice!.endpoints.map((e) => e.conditions),
    [
      { ready: false, serving: true, terminating: true },
      { ready: false, serving: false, terminating: true },
    ],
  );
  // The legacy Endpoints object leaves terminating pods out altogether.
  assert.equal(
    desiredEndpoints(service, [pod('a', '10.244.1.5', { deleting: true })]).subsets,
    undefined,
  );
});

test('slices: a pod on a node the cluster no longer has is neither ready nor serving', () => {
  const pods = [pod('a', '10.244.1.5'), pod('gone', '10.244.3.5', { node: 'node-3' })];
  const [slice] = planEndpointSlices(service, pods, [], zones).create;
  assert.deepEqual(
    slice!.endpoints.map((e) => [e.addresses[0], e.conditions]),
    [
      ['10.244.1.5', { ready: true, serving: true, terminating: false }],
      ['10.244.3.5', { ready: false, serving: false, terminating: false }],
    ],
  );
  // In the legacy Endpoints object it moves to notReadyAddresses.
  const [subset] = desiredEndpoints(service, pods, zones).subsets!;
  assert.deepEqual(
    [subset!.addresses?.map((a) => a.ip), subset!.notReadyAddresses?.map((a) => a.ip)],
    [['10.244.1.5'], ['10.244.3.5']],
  );
});

test('slices: at most 100 endpoints per slice; new endpoints fill slices with room first', () => {
  const pods = Array.from({ length: 250 }, (_, i) =>
    pod(`p${i}`, `10.244.${Math.floor(i / 200)}.${(i % 200) + 1}`),
  );
  const first = planEndpointSlices(service, pods, []);
  assert.deepEqual(
    first.create.map((s) => s.endpoints.length),
    [MAX_ENDPOINTS_PER_SLICE, MAX_ENDPOINTS_PER_SLICE, 50],
  );
  assert.equal(new Set(first.create.map((s) => s.metadata.name)).size, 3);
  const stored = applied([], first);
  // Nothing changed: nothing to write.
  assert.deepEqual(planEndpointSlices(service, pods, stored), {
    create: [],
    update: [],
    delete: [],
  });
  // One more pod: it goes into the slice with room, updated in place at its revision.
  const more = planEndpointSlices(service, [...pods, pod('new', '10.244.9.9')], stored);
  assert.equal(more.create.length + more.delete.length, 0);
  assert.equal(more.update.length, 1);
  assert.equal(more.update[0]!.endpoints.length, 51);
  assert.equal(more.update[0]!.metadata.resourceVersion, '7');
});

test('slices: a pod gone is taken out of its slice; an emptied slice goes, one stays', () => {
  const pods = [pod('a', '10.244.1.5'), pod('b', '10.244.1.6')];
  const stored = applied([], planEndpointSlices(service, pods, []));
  const fewer = planEndpointSlices(service, [pods[0]!], stored);
  assert.deepEqual(
    fewer.update.map((s) => s.endpoints.map((e) => e.addresses[0])),
    [['10.244.1.5']],
  );
  // No pods at all: the slice stays, empty, as the service's placeholder.
  const none = planEndpointSlices(service, [], stored);
  assert.equal(none.create.length + none.update.length, 1);
  const placeholder = [...none.create, ...none.update][0]!;
  assert.deepEqual(placeholder.endpoints, []);
  assert.equal(applied(stored, none).length, 1);
});

test('slices: pods whose named port resolves differently get slices of their own', () => {
  const plan = planEndpointSlices(
    service,
    [pod('a', '10.244.1.5'), pod('b', '10.244.1.6', { port: 8081 })],
    [],
  );
  assert.deepEqual(
    plan.create.map((s) => [s.ports![0]!.port, s.endpoints.map((e) => e.addresses[0])]),
    [
      [8080, ['10.244.1.5']],
      [8081, ['10.244.1.6']],
    ],
  );
});

test('slices: a service without a selector gets none, and its managed slices go', () => {
  const stored = applied([], planEndpointSlices(service, [pod('a', '10.244.1.5')], []));
  const manual: Service = { ...service, spec: { ...service.spec, selector: undefined } };
  const plan = planEndpointSlices(manual, [pod('a', '10.244.1.5')], stored);
  assert.deepEqual(plan.create, []);
  assert.deepEqual(plan.update, []);
  assert.deepEqual(
    plan.delete.map((s) => s.metadata.name),
    stored.map((s) => s.metadata.name),
  );
  const empty: Service = { ...service, spec: { ...service.spec, selector: {} } };
  assert.deepEqual(planEndpointSlices(empty, [pod('a', '10.244.1.5')], []).create, []);
});

test('slices: a malformed pod IP is a data error naming the pod', () => {
  assert.throws(
    () => planEndpointSlices(service, [pod('bad', '10.244.1')], []),
    (e: Error) =>
      e instanceof DataError &&
      e.message === 'Pod shop/bad: status.podIP "10.244.1": not an IPv4 or IPv6 address',
  );
});

test('endpoints: the legacy object groups by resolved ports, not-ready pods apart', () => {
  const obj = desiredEndpoints(service, [
    pod('a', '10.244.1.9', { port: 8081, node: 'node-2' }),
    pod('b', '10.244.1.10'),
    pod('c', '10.244.1.11', { ready: false }),
  ]);
  assert.deepEqual(obj.metadata, {
    name: 'web',
    namespace: 'shop',
    labels: { tier: 'front', 'endpointslice.kubernetes.io/skip-mirror': 'true' },
  });
  assert.deepEqual(
    obj.subsets!.map((s) => [
      (s.addresses ?? []).map((a) => a.ip),
      (s.notReadyAddresses ?? []).map((a) => a.ip),
      s.ports!.map((p) => `${p.name}:${p.port}`),
    ]),
    [
      [['10.244.1.9'], [], ['http:8081', 'metrics:9100']],
      [['10.244.1.10'], ['10.244.1.11'], ['http:8080', 'metrics:9100']],
    ],
  );
  assert.equal(
    objectTable('Endpoints', [obj], { now: new Date('2025-01-01') }),
    [
      'NAME   ENDPOINTS                                                      AGE',
      'web    10.244.1.9:8081,10.244.1.9:9100,10.244.1.10:8080 + 1 more...   <unknown>',
    ].join('\n'),
  );
});

test('reading slices: absent conditions are ready and serving; duplicates count once', () => {
  const slice = (
    name: string,
    ips: string[],
    extra: Partial<EndpointSlice> = {},
  ): EndpointSlice => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip] })),
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    ...extra,
  });
  const set = endpointsFromSlices(service, [
    slice('one', ['10.244.1.10', '10.244.1.9']),
    slice('two', ['10.244.1.9']),
    slice('fqdn', ['example.org'], { addressType: 'FQDN' }),
    slice('elsewhere', ['10.244.5.5'], {
      metadata: { name: 'x', namespace: 'other', labels: { 'kubernetes.io/service-name': 'web' } },
    }),
  ]);
  assert.deepEqual(
    set.ports[0]!.endpoints.map((e) => [e.ip, e.port, e.ready, e.serving, e.terminating]),
    [
      ['10.244.1.9', 8080, true, true, false],
      ['10.244.1.10', 8080, true, true, false],
    ],
  );
  // The slice has no `metrics` port: that service port has no endpoints.
  assert.deepEqual(set.ports[1]!.endpoints, []);
  assert.equal(
    objectTable(
      'EndpointSlice',
      [slice('one', ['10.244.1.1', '10.244.1.2', '10.244.1.3', '10.244.1.4'])],
      {
        now: new Date('2025-01-01'),
      },
    ),
    [
      'NAME   ADDRESSTYPE   PORTS   ENDPOINTS                                      AGE',
      'one    IPv4          8080    10.244.1.1,10.244.1.2,10.244.1.3 + 1 more...   <unknown>',
    ].join('\n'),
  );
});
