// Manifests through the real CLI (`bin/podnet apply/get/delete --store sqlite:<tmp>`): what
// kubectl users write applies (unknown fields warned about and kept); bad manifests are
// rejected with field paths, exit code 2, and nothing of them is written.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open.js';
import { CliOnTempStore } from '../helpers/cli-store.js';

const podnet = new CliOnTempStore('podnet-manifests-');
const { cli, manifest, storeUrl } = podnet;

before(() => podnet.createNamespaces(['shop', 'bad']));
after(() => podnet.remove());

// As kubectl users write them: resources, probes, imagePullPolicy, restartPolicy, named ports.
const REAL = `
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels:
    app.kubernetes.io/name: web
spec:
  type: NodePort
  selector:
    app.kubernetes.io/name: web
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: http
---
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels:
    app.kubernetes.io/name: web
spec:
  restartPolicy: Always
  containers:
    - name: nginx
      image: nginx:1.27
      imagePullPolicy: IfNotPresent
      ports:
        - name: http
          containerPort: 8080
      resources:
        requests:
          cpu: 100m
          memory: 64Mi
        limits:
          memory: 128Mi
      readinessProbe:
        httpGet:
          path: /healthz
          port: http
`;

test('manifests: a real Service and Pod manifest applies, unknown fields warned about and kept', () => {
  const file = manifest('real.yaml', REAL);
  const r = cli(['apply', '-f', file]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'service/web created\npod/web-0 created\n');
  assert.match(
    r.err,
    /warning: Pod shop\/web-0: spec\.containers\[0\]\.resources: unknown field, kept as given/,
  );
  assert.match(r.err, /warning: Pod shop\/web-0: spec\.restartPolicy: unknown field/);

  const pod = JSON.parse(cli(['get', 'pod', 'web-0', '-n', 'shop', '-o', 'json']).out);
  assert.equal(pod.kind, 'Pod');
  assert.deepEqual(pod.spec.containers[0].resources.limits, { memory: '128Mi' });
  assert.equal(pod.spec.containers[0].ports[0].protocol, 'TCP');
  assert.ok(pod.metadata.uid && pod.metadata.resourceVersion && pod.metadata.creationTimestamp);

  const list = JSON.parse(cli(['get', 'svc', '-A', '-o', 'json']).out);
  assert.equal(list.apiVersion, 'v1');
  assert.equal(list.kind, 'List');
  assert.deepEqual(
    list.items.map((s: { metadata: { name: string } }) => s.metadata.name),
    ['web'],
  );
  const table = cli(['get', 'services', '-n', 'shop']);
  assert.match(
    table.out,
    /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nweb\s+NodePort\s/,
  );

  // Endpoints are written by the endpoint-slice controller in the agents, and none runs here:
  // as with Kubernetes before its controller has run, there are none to show.
  const eps = cli(['get', 'ep', '-n', 'shop']);
  assert.equal(eps.code, 0, eps.err);
  assert.equal(eps.out, '');
  assert.equal(eps.err, 'No resources found in shop namespace.\n');

  // Applying the same manifest again changes nothing.
  const again = cli(['apply', '-f', file]);
  assert.equal(again.out, 'service/web unchanged\npod/web-0 unchanged\n');
});

test('manifests: the same objects as JSON on stdin apply too', () => {
  const json = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'from-stdin' },
  });
  const r = cli(['apply', '-f', '-'], json);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'namespace/from-stdin created\n');
  assert.match(cli(['get', 'ns']).out, /from-stdin\s+Active/);
});

const GOOD_POD = `
apiVersion: v1
kind: Pod
metadata: {name: should-not-exist, namespace: bad}
spec: {containers: [{name: c, image: busybox}]}
`;

const BAD: [string, string, RegExp][] = [
  [
    'bad CIDR',
    `apiVersion: v1
kind: Node
metadata: {name: node-x}
spec: {podCIDR: 10.244.1.0/33}`,
    /^error: Node node-x: spec\.podCIDR: must be an IPv4 or IPv6 network .*got "10\.244\.1\.0\/33"$/m,
  ],
  [
    'port 70000',
    `apiVersion: v1
kind: Service
metadata: {name: web, namespace: bad}
spec: {selector: {app: web}, ports: [{name: http, port: 80}, {name: big, port: 70000}]}`,
    /^error: Service bad\/web: spec\.ports\[1\]\.port: must be 1-65535, got 70000$/m,
  ],
  [
    'selector on ExternalName',
    `apiVersion: v1
kind: Service
metadata: {name: db, namespace: bad}
spec: {type: ExternalName, externalName: db.example.com, selector: {app: db}}`,
    /^error: Service bad\/db: spec\.selector: must not be set when spec\.type is ExternalName$/m,
  ],
  [
    'duplicate port names',
    `apiVersion: v1
kind: Service
metadata: {name: web, namespace: bad}
spec: {selector: {app: web}, ports: [{name: http, port: 80}, {name: http, port: 8080}]}`,
    /^error: Service bad\/web: spec\.ports\[1\]\.name: duplicate port name "http" \(also spec\.ports\[0\]\.name\)$/m,
  ],
  [
    'unknown kind',
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: bad}`,
    /^error: .*document 2: kind: unknown kind "Deployment" \(podnet knows .*\)$/m,
  ],
];

for (const [what, doc, message] of BAD) {
  test(`manifests: ${what} is rejected with the field path, exit 2, nothing written`, () => {
    // The good document comes first: all-or-nothing means it must not be written either.
    const file = manifest(`bad-${what.replace(/\W+/g, '-')}.yaml`, `${GOOD_POD}---\n${doc}\n`);
    const r = cli(['apply', '-f', file]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, message);
    assert.match(r.err, /nothing was applied/);
    assert.doesNotMatch(r.err, /\bat .*\.js:\d+/, 'no stack trace');
    assert.equal(r.out, '');
    const pods = JSON.parse(cli(['get', 'pods', '-n', 'bad', '-o', 'json']).out);
    assert.deepEqual(pods.items, [], 'nothing partial is written');
    const svcs = JSON.parse(cli(['get', 'svc', '-n', 'bad', '-o', 'json']).out);
    assert.deepEqual(svcs.items, []);
    const node = cli(['get', 'node', 'node-x']);
    assert.equal(node.code, 1);
  });
}

test('manifests: delete by name and by file; unknown kinds and names are clear errors', () => {
  const file = manifest('real.yaml', REAL);
  assert.equal(cli(['apply', '-f', file]).code, 0);
  const byName = cli(['delete', 'po', 'web-0', '-n', 'shop']);
  assert.equal(byName.code, 0, byName.err);
  assert.equal(byName.out, 'pod "web-0" deleted\n');
  const missing = cli(['delete', 'pods', 'web-0', '-n', 'shop']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: pods "web-0" not found$/m);
  const byFile = cli(['delete', '-f', file]);
  assert.match(byFile.out, /service "web" deleted/);
  const kind = cli(['get', 'deployments']);
  assert.equal(kind.code, 2);
  assert.match(kind.err, /deployments: unknown kind/);
  const output = cli(['get', 'pods', '-o', 'xml']);
  assert.equal(output.code, 2);
  assert.match(output.err, /-o xml: must be json, yaml or wide/);
});

/** Every key and value in the store, read as another process would. */
async function storeDump(): Promise<[string, string][]> {
  const store = await openStore(storeUrl);
  try {
    return (await store.list('/')).items.map((kv) => [kv.key, kv.value]);
  } finally {
    await store.close();
  }
}

test('manifests: a manifest whose second Service is refused at admission leaves the store exactly as it was', async () => {
  const holder = cli(
    ['apply', '-f', '-'],
    `{"apiVersion":"v1","kind":"Service","metadata":{"name":"holder","namespace":"shop"},
      "spec":{"clusterIP":"10.96.0.40","selector":{"app":"h"},"ports":[{"port":80}]}}`,
  );
  assert.equal(holder.code, 0, holder.err);
  const before = await storeDump();
  const file = manifest(
    'second-bad.yaml',
    `apiVersion: v1
kind: Service
metadata: {name: first, namespace: shop}
spec: {type: NodePort, selector: {app: first}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: second, namespace: shop}
spec: {clusterIP: 10.96.0.40, selector: {app: second}, ports: [{port: 80}]}
`,
  );
  const r = cli(['apply', '-f', file]);
  assert.equal(r.code, 2, r.err);
  assert.match(
    r.err,
    /^error: Service shop\/second: spec\.clusterIP 10\.96\.0\.40: already allocated to service shop\/holder$/m,
  );
  assert.match(r.err, /nothing was applied/);
  assert.equal(r.out, '');
  assert.deepEqual(await storeDump(), before);
});

test('namespaces: objects need their namespace; it carries its name label; deleting it is Terminating until its pods are gone', () => {
  const missing = cli(
    ['apply', '-f', '-'],
    `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"nowhere"},"spec":{"containers":[{"name":"c"}]}}`,
  );
  assert.equal(missing.code, 2);
  assert.match(
    missing.err,
    /^error: Pod nowhere\/p: metadata\.namespace: namespace "nowhere" not found; create it first/m,
  );
  const file = manifest(
    'team.yaml',
    `apiVersion: v1
kind: Node
metadata: {name: node-t}
spec: {}
---
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: team}
spec: {type: NodePort, selector: {app: api}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: team}
spec: {nodeName: node-t, containers: [{name: c}]}
`,
  );
  assert.equal(cli(['apply', '-f', file]).code, 0);
  const ns = JSON.parse(cli(['get', 'ns', 'team', '-o', 'json']).out);
  assert.equal(ns.metadata.labels['kubernetes.io/metadata.name'], 'team');

  const del = cli(['delete', 'ns', 'team']);
  assert.equal(del.code, 0, del.err);
  assert.equal(del.out, 'namespace "team" deleted\n');
  assert.match(cli(['get', 'ns']).out, /^team\s+Terminating\s/m);
  assert.match(cli(['get', 'pods', '-n', 'team']).out, /^api-0\s+0\/1\s+Terminating\s/m);
  assert.equal(cli(['get', 'svc', 'api', '-n', 'team']).code, 1, 'the service goes at once');
  const late = cli(
    ['apply', '-f', '-'],
    `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"late","namespace":"team"},"spec":{"containers":[{"name":"c"}]}}`,
  );
  assert.equal(late.code, 2);
  assert.match(late.err, /namespace "team" is being deleted \(Terminating\)/);

  // Its node will never tear it down: removed at once, and the namespace with it.
  assert.equal(cli(['delete', 'pod', 'api-0', '-n', 'team', '--grace-period', '0']).code, 2);
  const forced = cli(['delete', 'pod', 'api-0', '-n', 'team', '--force', '--grace-period', '0']);
  assert.equal(forced.code, 0, forced.err);
  assert.equal(cli(['get', 'ns', 'team']).code, 1, 'the namespace is gone with its last pod');
  assert.equal(cli(['delete', 'node', 'node-t']).code, 0);
  const sys = cli(['delete', 'ns', 'default']);
  assert.equal(sys.code, 2);
  assert.match(sys.err, /namespace "default": a system namespace cannot be deleted/);
});

test('repair: frees a cluster IP and a node port no Service holds', async () => {
  const store = await openStore(storeUrl);
  try {
    await store.put('/podnet/reservations/serviceips/10-96-7-7', 'shop/killed-mid-apply');
    await store.put(
      '/podnet/nodeports/31999',
      JSON.stringify({ service: 'shop/killed-mid-apply' }),
    );
  } finally {
    await store.close();
  }
  const r = cli(['repair', '--settle', '0']);
  assert.equal(r.code, 0, r.err);
  assert.equal(
    r.out,
    'freed /podnet/reservations/serviceips/10-96-7-7 (held for shop/killed-mid-apply)\n' +
      'freed /podnet/nodeports/31999 (held for shop/killed-mid-apply)\n',
  );
  const again = cli(['repair', '--settle', '0']);
  assert.equal(again.out, '');
  assert.match(again.err, /nothing to repair/);
});
