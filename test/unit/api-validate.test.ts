import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateObject } from '../../src/api/validate.js';
import { parseManifests } from '../../src/api/manifest.js';
import { kindByAlias } from '../../src/api/kinds.js';
import { DEFAULT_CLUSTER_NETWORK, type Service } from '../../src/api/types.js';

const svc = (spec: Record<string, unknown>, name = 'web', namespace = 'my-ns') => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec,
});

test('api: a port out of range names the object, the field path and the value', () => {
  const r = validateObject(
    svc({
      selector: { app: 'web' },
      ports: [
        { name: 'a', port: 80 },
        { name: 'b', port: 70000 },
      ],
    }),
  );
  assert.deepEqual(r.errors, ['Service my-ns/web: spec.ports[1].port: must be 1-65535, got 70000']);
  assert.equal(r.object, undefined);
});

test('api: duplicate service port names are rejected', () => {
  const r = validateObject(
    svc({
      ports: [
        { name: 'http', port: 80 },
        { name: 'http', port: 81 },
      ],
      selector: { a: 'b' },
    }),
  );
  assert.equal(r.errors.length, 1);
  assert.match(
    r.errors[0]!,
    /spec\.ports\[1\]\.name: duplicate port name "http" \(also spec\.ports\[0\]\.name\)/,
  );
});

test('api: a selector on an ExternalName service is rejected', () => {
  const r = validateObject(
    svc({ type: 'ExternalName', externalName: 'db.example.com', selector: { app: 'db' } }),
  );
  assert.deepEqual(r.errors, [
    'Service my-ns/web: spec.selector: must not be set when spec.type is ExternalName',
  ]);
});

test('api: a bad CIDR is rejected with the field path', () => {
  const r = validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: { clusterCIDR: '10.244.0.0/33' },
  });
  assert.equal(r.errors.length, 1);
  assert.match(
    r.errors[0]!,
    /^ClusterNetwork default: spec\.clusterCIDR: must be an IPv4 or IPv6 network.*got "10\.244\.0\.0\/33"$/,
  );
  const host = validateObject({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1' },
    spec: { podCIDR: '10.244.1.7/24' },
  });
  assert.match(
    host.errors[0]!,
    /^Node n1: spec\.podCIDR: must be an IPv4 or IPv6 network .*\(address bits past the prefix zero\)/,
  );
  const address = validateObject({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1' },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: '172.31.1.300' }] },
  });
  assert.deepEqual(address.errors, [
    'Node n1: status.addresses[0].address: must be an IPv4 address for InternalIP and ExternalIP, got "172.31.1.300"',
  ]);
});

test('api: an unknown kind is rejected and the known kinds are listed', () => {
  const r = validateObject(
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } },
    { label: 'f.yaml document 2' },
  );
  assert.deepEqual(r.errors, [
    'f.yaml document 2: kind: unknown kind "Deployment" (podnet knows Namespace, Node, Pod, Service, Endpoints, EndpointSlice, ServiceAccount, Role, ClusterRole, RoleBinding, ClusterRoleBinding, ClusterNetwork, BGPPeer, Lease, NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy)',
  ]);
});

test('api: a clusterIP outside the service CIDR is rejected', () => {
  const r = validateObject(
    svc({ clusterIP: '10.200.0.1', ports: [{ port: 53 }], selector: { a: 'b' } }),
    {
      network: DEFAULT_CLUSTER_NETWORK,
    },
  );
  assert.deepEqual(r.errors, [
    'Service my-ns/web: spec.clusterIP: must be inside the service CIDR 10.96.0.0/16, got "10.200.0.1"',
  ]);
  const inside = validateObject(
    svc({ clusterIP: '10.96.3.4', ports: [{ port: 53 }], selector: { a: 'b' } }),
    {
      network: DEFAULT_CLUSTER_NETWORK,
    },
  );
  assert.deepEqual(inside.errors, []);
});

test('api: unknown fields are warnings and are kept; defaults are filled in', () => {
  const r = validateObject({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', labels: { app: 'web' } },
    spec: {
      restartPolicy: 'Always',
      containers: [
        {
          name: 'web',
          image: 'nginx',
          resources: { limits: { cpu: '100m' } },
          ports: [{ name: 'http', containerPort: 8080 }],
        },
      ],
    },
  });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.warnings, [
    'Pod default/web-1: spec.containers[0].resources: unknown field, kept as given',
    'Pod default/web-1: spec.restartPolicy: unknown field, kept as given',
  ]);
  const pod = r.object as unknown as {
    metadata: { namespace: string };
    spec: Record<string, unknown> & {
      containers: { resources: unknown; ports: { protocol: string }[] }[];
    };
  };
  assert.equal(pod.metadata.namespace, 'default');
  assert.equal(pod.spec.restartPolicy, 'Always');
  assert.deepEqual(pod.spec.containers[0]!.resources, { limits: { cpu: '100m' } });
  assert.equal(pod.spec.containers[0]!.ports[0]!.protocol, 'TCP');
});

test('api: service defaults follow Kubernetes (ClusterIP, TCP, targetPort = port)', () => {
  const r = validateObject(svc({ selector: { app: 'web' }, ports: [{ port: 80 }] }));
  const s = r.object as Service;
  assert.equal(s.spec.type, 'ClusterIP');
  assert.equal(s.spec.sessionAffinity, 'None');
  assert.deepEqual(s.spec.ports, [{ port: 80, protocol: 'TCP', targetPort: 80 }]);
});

test('api: wrong apiVersion, missing name and non-string label values are errors', () => {
  const r = validateObject(
    { apiVersion: 'v2', kind: 'Namespace', metadata: { labels: { a: 1 } } },
    { label: 'stdin' },
  );
  assert.deepEqual(r.errors, [
    'stdin: apiVersion: must be "v1", got "v2"',
    'stdin: metadata.name: is required',
    'stdin: metadata.labels.a: must be a string, got 1',
  ]);
});

test('api: multi-document manifests are all checked; one bad document rejects the whole set', () => {
  const text = `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{port: 70000}], selector: {app: web}}
---
`;
  assert.throws(() => parseManifests(text, 'm.yaml'), {
    name: 'UsageError',
    message: 'Service shop/web: spec.ports[0].port: must be 1-65535, got 70000',
  });
  const ok = parseManifests(text.replace('70000', '80'), 'm.yaml', { namespace: 'x' });
  assert.deepEqual(
    ok.objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`),
    ['Namespace /shop', 'Service shop/web'],
  );
});

test('api: JSON documents and kind List are accepted', () => {
  const list = JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }],
  });
  assert.equal(parseManifests(list, 'l.json').objects[0]!.metadata.name, 'a');
  assert.throws(
    () => parseManifests('{"kind": ', 'x.json'),
    /x\.json line \d+: not valid YAML or JSON/,
  );
});

test('api: a ClusterNetwork in the same manifest sets the service CIDR for the others', () => {
  const text = `
apiVersion: podnet.io/v1
kind: ClusterNetwork
metadata: {name: default}
spec: {serviceCIDR: 10.100.0.0/16, dnsIP: 10.100.0.10}
---
apiVersion: v1
kind: Service
metadata: {name: dns}
spec: {clusterIP: 10.100.0.10, ports: [{port: 53, protocol: UDP}], selector: {k8s-app: dns}}
`;
  const r = parseManifests(text, 'c.yaml', { network: DEFAULT_CLUSTER_NETWORK });
  const cn = r.objects[0]!;
  assert.equal(cn.kind, 'ClusterNetwork');
  assert.equal(
    cn.kind === 'ClusterNetwork' && cn.spec.clusterCIDR,
    DEFAULT_CLUSTER_NETWORK.clusterCIDR,
  );
});

test('api: kubectl kind names and short forms', () => {
  for (const [word, kind] of [
    ['po', 'Pod'],
    ['pods', 'Pod'],
    ['pod', 'Pod'],
    ['svc', 'Service'],
    ['services', 'Service'],
    ['no', 'Node'],
    ['nodes', 'Node'],
    ['ns', 'Namespace'],
    ['namespaces', 'Namespace'],
    ['clusternetworks', 'ClusterNetwork'],
    ['Pod', 'Pod'],
  ]) {
    assert.equal(kindByAlias(word!)?.kind, kind, word);
  }
  assert.equal(kindByAlias('deploy'), undefined);
});

test('api: BGPPeer objects are checked (address, AS) and named bgppeers', () => {
  const ok = validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'BGPPeer',
    metadata: { name: 'tor-1' },
    spec: { peerIP: '172.31.1.254', asNumber: 65000, nodeSelector: { rack: 'r1' } },
  });
  assert.deepEqual(ok.errors, []);
  const bad = validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'BGPPeer',
    metadata: { name: 'tor-2' },
    spec: { peerIP: '172.31.1.300', asNumber: 0 },
  });
  assert.deepEqual(bad.errors.length, 2);
  assert.match(
    bad.errors.join('\n'),
    /BGPPeer tor-2: spec\.peerIP: must be an IPv4 or IPv6 address/,
  );
  // A router reached over IPv6 (an IPv6-only fabric), keyed or not.
  const ipv6 = validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'BGPPeer',
    metadata: { name: 'tor-3' },
    spec: { peerIP: 'fd00:172:31:1::fe', asNumber: 65000, passwordFile: '/etc/podnet/tor-3.key' },
  });
  assert.deepEqual(ipv6.errors, []);
  assert.match(bad.errors.join('\n'), /BGPPeer tor-2: spec\.asNumber: must be 1-4294967295/);
  assert.equal(kindByAlias('bgppeers')?.kind, 'BGPPeer');
});

test('api: a BGPPeer names its TCP-MD5 key by an absolute file path, never holds it', () => {
  const peer = (passwordFile: unknown) =>
    validateObject({
      apiVersion: 'podnet.io/v1',
      kind: 'BGPPeer',
      metadata: { name: 'tor-1' },
      spec: { peerIP: '172.31.1.254', asNumber: 65000, passwordFile },
    });
  assert.deepEqual(peer('/etc/podnet/bgp/tor-1.key').errors, []);
  for (const bad of ['tor-1.key', '/etc/podnet/bgp/', '', 42]) {
    assert.match(
      peer(bad).errors.join('\n'),
      /BGPPeer tor-1: spec\.passwordFile: must be/,
      JSON.stringify(bad),
    );
  }
  // The key itself in the object is refused (an unknown field would be kept and shown).
  const inline = validateObject({
    apiVersion: 'podnet.io/v1',
    kind: 'BGPPeer',
    metadata: { name: 'tor-1' },
    spec: { peerIP: '172.31.1.254', asNumber: 65000, password: 'hunter2' },
  });
  assert.equal(inline.object, undefined);
  assert.deepEqual(inline.errors, [
    'BGPPeer tor-1: spec.password: objects never hold keys: put the key in a file on each node and name that file in spec.passwordFile',
  ]);
});

test('api: a readiness probe is read, one handler at most, its fields checked; others kept with a warning', () => {
  const pod = (readinessProbe: object) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'my-ns' },
    spec: { containers: [{ name: 'web', command: ['serve'], readinessProbe }] },
  });
  const ok = validateObject(pod({ httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 }));
  assert.deepEqual(ok.errors, []);
  assert.deepEqual(ok.warnings, []);
  const two = validateObject(pod({ httpGet: { port: 80 }, tcpSocket: { port: 80 } }));
  assert.equal(two.errors.length, 1);
  assert.match(
    two.errors[0]!,
    /^Pod my-ns\/web: spec\.containers\[0\]\.readinessProbe: may have only one handler: httpGet, tcpSocket or exec/,
  );
  const zero = validateObject(pod({ tcpSocket: { port: 80 }, periodSeconds: 0 }));
  assert.deepEqual(zero.errors, [
    'Pod my-ns/web: spec.containers[0].readinessProbe.periodSeconds: must be at least 1, got 0',
  ]);
  const grpc = validateObject(pod({ grpc: { port: 9000 } }));
  assert.deepEqual(grpc.errors, []);
  assert.match(grpc.warnings.join('\n'), /readinessProbe\.grpc: unknown field, kept as given/);
});

test('api: a preStop sleep is read and checked; other lifecycle handlers kept with a warning', () => {
  const pod = (lifecycle: object) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: 'my-ns' },
    spec: { containers: [{ name: 'web', command: ['serve'], lifecycle }] },
  });
  const ok = validateObject(pod({ preStop: { sleep: { seconds: 5 } } }));
  assert.deepEqual([ok.errors, ok.warnings], [[], []]);
  const negative = validateObject(pod({ preStop: { sleep: { seconds: -1 } } }));
  assert.deepEqual(negative.errors, [
    'Pod my-ns/web: spec.containers[0].lifecycle.preStop.sleep.seconds: must be at least 0, got -1',
  ]);
  const exec = validateObject(pod({ preStop: { exec: { command: ['drain'] } }, postStart: {} }));
  assert.deepEqual(exec.errors, []);
  assert.match(exec.warnings.join('\n'), /lifecycle\.preStop\.exec: unknown field, kept as given/);
  assert.match(exec.warnings.join('\n'), /lifecycle\.postStart: unknown field, kept as given/);
});
