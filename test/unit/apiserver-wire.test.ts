// The API server's pure parts: selectors, the three patch forms, Tables, Status errors, request
// routing and the checks a request body goes through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, Service } from '../../src/api/types.js';
import { DEFAULT_CLUSTER_NETWORK } from '../../src/api/types.js';
import { causeOf, checkObject } from '../../src/apiserver/admission.js';
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
} from '../../src/apiserver/patch.js';
import { resourceOfKind } from '../../src/apiserver/resources.js';
import { route } from '../../src/apiserver/server.js';
import { patchTypeOf } from '../../src/apiserver/handlers.js';
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from '../../src/apiserver/selectors.js';
import { ApiError, conflict, invalid, notFound } from '../../src/apiserver/status.js';
import { toTable, wantsTable } from '../../src/apiserver/table.js';

/** What a patch content type becomes for a kind: the patch form, or the code refusing it. */
function handlesPatch(contentType: string, kind: string): string | number {
  try {
    return patchTypeOf(contentType, resourceOfKind(kind)!);
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
}

const podResource = resourceOfKind('Pod')!;
const serviceResource = resourceOfKind('Service')!;

const pod = (over: Partial<Pod['metadata']> = {}, nodeName = 'node-1'): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'shop', labels: { app: 'web', tier: 'front' }, ...over },
  spec: { nodeName, containers: [{ name: 'c', image: 'a:1', env: [{ name: 'A', value: '1' }] }] },
  status: { phase: 'Running', podIP: '10.244.1.5' },
});

test('label selectors: equality, sets, existence, all requirements must hold', () => {
  const labels = { app: 'web', tier: 'front' };
  const sel = (s: string) => matchesLabels(parseLabelSelector(s), labels);
  assert.ok(sel('app=web'));
  assert.ok(sel('app==web,tier'));
  assert.ok(sel('app in (web, api),!canary'));
  assert.ok(sel('tier notin (back)'));
  assert.ok(!sel('app!=web'));
  assert.ok(!sel('app in (api),tier'));
  assert.ok(!sel('canary'));
  assert.ok(!sel('!tier'));
  assert.ok(matchesLabels(parseLabelSelector('x notin (a)'), undefined));
  assert.throws(() => parseLabelSelector('app in (we b)'), ApiError);
});

test('field selectors: the fields the resource declares; others are refused with 400', () => {
  const fields = ['metadata.name', 'metadata.namespace', 'spec.nodeName'];
  const value = (f: string) => ({ 'spec.nodeName': 'node-2', 'metadata.name': 'p' })[f] ?? '';
  assert.ok(matchesFields(parseFieldSelector('spec.nodeName=node-2', fields), value));
  assert.ok(
    matchesFields(parseFieldSelector('metadata.name==p,spec.nodeName!=node-1', fields), value),
  );
  assert.ok(!matchesFields(parseFieldSelector('spec.nodeName=node-1', fields), value));
  assert.throws(
    () => parseFieldSelector('spec.image=x', fields),
    (e: ApiError) => e.code === 400 && /field label not supported: spec.image/.test(e.message),
  );
});

test('json patch: add, replace, remove, test, escaped keys, append', () => {
  const out = applyJsonPatch(pod(), [
    { op: 'add', path: '/metadata/labels/app.kubernetes.io~1name', value: 'web' },
    { op: 'replace', path: '/spec/containers/0/image', value: 'a:2' },
    { op: 'remove', path: '/metadata/labels/tier' },
    { op: 'add', path: '/spec/containers/0/env/-', value: { name: 'B', value: '2' } },
    { op: 'test', path: '/metadata/name', value: 'web-1' },
  ]) as Pod;
  assert.deepEqual(out.metadata.labels, { app: 'web', 'app.kubernetes.io/name': 'web' });
  assert.equal(out.spec.containers[0]!.image, 'a:2');
  assert.deepEqual(
    out.spec.containers[0]!.env!.map((e) => e.name),
    ['A', 'B'],
  );
  assert.throws(() => applyJsonPatch(pod(), [{ op: 'remove', path: '/spec/nothere/x' }]), ApiError);
  assert.throws(
    () => applyJsonPatch(pod(), [{ op: 'test', path: '/metadata/name', value: 'other' }]),
    (e: ApiError) => e.code === 422,
  );
});

test('merge patch: null removes, objects merge, lists are replaced', () => {
  const out = applyMergePatch(pod(), {
    metadata: { labels: { tier: null, color: 'red' } },
    spec: { containers: [{ name: 'd' }] },
  }) as Pod;
  assert.deepEqual(out.metadata.labels, { app: 'web', color: 'red' });
  assert.deepEqual(out.spec.containers, [{ name: 'd' }]);
  assert.equal(out.spec.nodeName, 'node-1');
});

test('strategic merge patch: containers by name, env by name, ports by port, directives', () => {
  const keys = podResource.mergeKeys!;
  const out = applyStrategicMergePatch(
    pod(),
    {
      spec: {
        containers: [
          { name: 'c', image: 'a:2', env: [{ name: 'B', value: '2' }] },
          { name: 'side', image: 's:1' },
        ],
      },
    },
    keys,
  ) as Pod;
  assert.deepEqual(
    out.spec.containers.map((c) => [c.name, c.image]),
    [
      ['c', 'a:2'],
      ['side', 's:1'],
    ],
  );
  assert.deepEqual(
    out.spec.containers[0]!.env!.map((e) => e.name),
    ['A', 'B'],
  );

  const deleted = applyStrategicMergePatch(
    out,
    { spec: { containers: [{ name: 'side', $patch: 'delete' }] } },
    keys,
  ) as Pod;
  assert.deepEqual(
    deleted.spec.containers.map((c) => c.name),
    ['c'],
  );

  const ordered = applyStrategicMergePatch(
    out,
    {
      spec: {
        '$setElementOrder/containers': [{ name: 'side' }, { name: 'c' }],
        containers: [{ name: 'c', image: 'a:3' }],
      },
    },
    keys,
  ) as Pod;
  assert.deepEqual(
    ordered.spec.containers.map((c) => c.name),
    ['side', 'c'],
  );

  const svc: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', namespace: 'shop' },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: 'web' } },
  };
  const patched = applyStrategicMergePatch(
    svc,
    {
      spec: {
        ports: [
          { port: 80, targetPort: 9090 },
          { name: 'https', port: 443 },
        ],
        selector: { $patch: 'replace', app: 'api' },
      },
    },
    serviceResource.mergeKeys!,
  ) as Service;
  assert.deepEqual(patched.spec.ports, [
    { name: 'http', port: 80, targetPort: 9090 },
    { name: 'https', port: 443 },
  ]);
  assert.deepEqual(patched.spec.selector, { app: 'api' });
});

test('strategic merge patch is refused for kinds without merge keys (podnet.io): 415', () => {
  assert.equal(handlesPatch('application/strategic-merge-patch+json', 'ClusterNetwork'), 415);
  assert.equal(handlesPatch('application/apply-patch+yaml', 'Pod'), 415);
  assert.equal(handlesPatch('application/merge-patch+json', 'ClusterNetwork'), 'merge');
  assert.equal(handlesPatch('application/strategic-merge-patch+json', 'Pod'), 'strategic');
});

test('Tables: Kubernetes columns, wide ones at priority 1, metadata rows for -A and --show-labels', () => {
  assert.equal(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json'), 'v1');
  assert.equal(wantsTable('application/json;as=Table;v=v1beta1;g=meta.k8s.io'), 'v1beta1');
  assert.equal(wantsTable('application/json'), undefined);
  const t = toTable(podResource, [pod({ creationTimestamp: '2026-01-01T00:00:00Z' })], {
    resourceVersion: '7',
    now: new Date('2026-01-01T00:05:00Z'),
  });
  assert.deepEqual(
    t.columnDefinitions.map((c) => `${c.name}:${c.priority}`),
    [
      'Name:0',
      'Ready:0',
      'Status:0',
      'Restarts:0',
      'Age:0',
      'IP:1',
      'Node:1',
      'Nominated Node:1',
      'Readiness Gates:1',
    ],
  );
  assert.deepEqual(t.rows[0]!.cells, [
    'web-1',
    '1/1',
    'Running',
    '0',
    '5m',
    '10.244.1.5',
    'node-1',
    '<none>',
    '<none>',
  ]);
  assert.deepEqual(t.rows[0]!.object, {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: pod({ creationTimestamp: '2026-01-01T00:00:00Z' }).metadata,
  });
  assert.equal(t.metadata.resourceVersion, '7');
  const svc = toTable(serviceResource, [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        type: 'NodePort',
        clusterIP: '10.96.0.7',
        ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }],
      },
    },
  ]);
  assert.deepEqual(svc.rows[0]!.cells.slice(0, 5), [
    'web',
    'NodePort',
    '10.96.0.7',
    '<none>',
    '80:30080/TCP',
  ]);
});

test('Status errors carry the reason, code and details kubectl prints', () => {
  const nf = notFound({ resource: 'pods', group: '', name: 'x' }).status;
  assert.equal(nf.code, 404);
  assert.equal(nf.reason, 'NotFound');
  assert.equal(nf.message, 'pods "x" not found');
  const cf = conflict(
    { resource: 'clusternetworks', group: 'podnet.io', name: 'default' },
    'the object has been modified',
  ).status;
  assert.equal(cf.code, 409);
  assert.match(
    cf.message!,
    /^Operation cannot be fulfilled on clusternetworks.podnet.io "default"/,
  );
  const inv = invalid('Pod', '', 'bad', [
    { field: 'spec.containers[0].name', message: 'must be a DNS label' },
  ]).status;
  assert.equal(inv.code, 422);
  assert.deepEqual(inv.details?.causes, [
    {
      reason: 'FieldValueInvalid',
      field: 'spec.containers[0].name',
      message: 'must be a DNS label',
    },
  ]);
});

test('request bodies: the same validation as podnet apply, one cause per field', () => {
  const opts = { resource: podResource, namespace: 'shop', network: DEFAULT_CLUSTER_NETWORK };
  assert.throws(
    () =>
      checkObject(
        {
          metadata: { name: 'p' },
          spec: { containers: [{ name: 'Bad', ports: [{ containerPort: 0 }] }] },
        },
        { ...opts, fieldValidation: 'Strict' },
      ),
    (e: ApiError) =>
      e.code === 422 &&
      e.details!.causes!.map((c) => c.field).join() ===
        'spec.containers[0].name,spec.containers[0].ports[0].containerPort',
  );
  assert.deepEqual(causeOf('Pod shop/p: spec.containers: must list at least one container'), {
    field: 'spec.containers',
    message: 'must list at least one container',
  });
});

test('null members of a body mean "not set", as kubectl run sends them', () => {
  const { object } = checkObject(
    {
      metadata: { name: 'p', creationTimestamp: null },
      spec: { containers: [{ name: 'c', resources: {} }] },
      status: {},
    },
    {
      resource: podResource,
      namespace: 'shop',
      network: DEFAULT_CLUSTER_NETWORK,
      fieldValidation: 'Strict',
    },
  );
  assert.equal('creationTimestamp' in object.metadata, false);
});

test('unknown fields: Strict refuses a typo, accepts Kubernetes fields podnet keeps; Ignore keeps it', () => {
  const base = { resource: podResource, namespace: 'shop', network: DEFAULT_CLUSTER_NETWORK };
  const typo = {
    metadata: { name: 'p' },
    spec: {
      restartPolicy: 'Always',
      containers: [{ name: 'c', imagee: 'x', imagePullPolicy: 'Always' }],
    },
  };
  assert.throws(
    () => checkObject(typo, { ...base, fieldValidation: 'Strict' }),
    (e: ApiError) =>
      e.code === 400 &&
      e.message.endsWith('strict decoding error: unknown field "spec.containers[0].imagee"'),
  );
  const kept = checkObject(typo, { ...base, fieldValidation: 'Ignore' });
  assert.equal((kept.object as Pod).metadata.namespace, 'shop');
  assert.deepEqual(checkObject(typo, { ...base, fieldValidation: 'Warn' }).warnings, [
    'unknown field "spec.containers[0].imagee"',
  ]);
  assert.throws(
    () =>
      checkObject(
        { metadata: { name: 'p', namespace: 'other' }, spec: { containers: [{ name: 'c' }] } },
        { ...base, fieldValidation: 'Strict' },
      ),
    (e: ApiError) => e.code === 400 && /does not match the namespace/.test(e.message),
  );
});

test('unknown fields a stored object already had pass Strict; they are worked out only when the body has unknown fields', () => {
  const base = { resource: podResource, namespace: 'shop', network: DEFAULT_CLUSTER_NETWORK };
  let asked = 0;
  const alreadyUnknown = () => {
    asked++;
    return new Set(['spec.containers[0].imagee']);
  };
  const typo = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', imagee: 'x' }] } };
  const strict = { ...base, fieldValidation: 'Strict' as const, alreadyUnknown };
  assert.deepEqual(checkObject(typo, strict).warnings, []);
  assert.equal(asked, 1);
  const other = { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', imag: 'x' }] } };
  assert.throws(
    () => checkObject(other, strict),
    (e: ApiError) => e.code === 400 && /unknown field "spec.containers\[0\].imag"/.test(e.message),
  );
  checkObject({ metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }] } }, strict);
  assert.equal(asked, 2, 'a body without unknown fields never asks');
});

test('paths: namespaced and cluster objects, subresources, named groups; unknown is 404', () => {
  assert.deepEqual(
    (({ resource, ...rest }) => ({ kind: resource.kind, ...rest }))(
      route('/api/v1/namespaces/shop/pods/web/status'),
    ),
    { kind: 'Pod', namespace: 'shop', name: 'web', subresource: 'status' },
  );
  assert.equal(route('/api/v1/pods').namespace, undefined);
  assert.equal(route('/api/v1/namespaces/shop').resource.kind, 'Namespace');
  assert.equal(route('/api/v1/namespaces/shop').name, 'shop');
  assert.equal(route('/apis/podnet.io/v1/clusternetworks/default').resource.kind, 'ClusterNetwork');
  for (const bad of [
    '/api/v1/widgets',
    '/api/v1/namespaces/shop/nodes',
    '/api/v1/namespaces/shop/pods/web/exec',
    '/apis/podnet.io/v2/bgppeers',
  ]) {
    assert.throws(
      () => route(bad),
      (e: ApiError) => e.code === 404,
      bad,
    );
  }
});
