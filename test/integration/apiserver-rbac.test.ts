// ServiceAccount tokens and RBAC through kubectl 1.32 against `podnet apiserver`: a token from
// `kubectl create token` (and from `podnet apiserver token`) authenticates its account, which
// may do nothing until a binding grants it, and can ask what it may do (`auth can-i`,
// `auth whoami`); a wrong token or a deleted account gets 401; the newer kinds (endpoints, endpoint slices, roles and bindings) print Kubernetes' columns.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok, startTempApiServer, type TempApiServer } from '../helpers/apiserver.js';

let api: TempApiServer;

before(async () => {
  api = await startTempApiServer('pnt-apiauth-');
});

after(() => api?.close());

/** kubectl as the holder of this bearer token (a kubeconfig with no client certificate). */
function kubectlWithToken(token: string, args: string[]) {
  const kubeconfig = join(api.dir, 'kubeconfig-token');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'c',
          cluster: { server: api.url, 'certificate-authority': join(api.dir, 'pki/ca.crt') },
        },
      ],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace: 'default' } }],
      'current-context': 'c',
    }),
  );
  return api.kubectl(['--kubeconfig', kubeconfig, ...args]);
}

const ROBOT = 'system:serviceaccount:default:robot';
let token = '';

test('kubectl create token mints a token the server accepts; it may do nothing yet', () => {
  ok(api.kubectl(['create', 'serviceaccount', 'robot']));
  token = ok(api.kubectl(['create', 'token', 'robot'])).trim();
  assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  const refused = kubectlWithToken(token, ['get', 'pods']);
  assert.equal(refused.code, 1);
  assert.match(
    refused.err,
    new RegExp(
      `Error from server \\(Forbidden\\): pods is forbidden: User "${ROBOT}" cannot list resource "pods" in API group "" in the namespace "default"`,
    ),
  );
  // Discovery is every authenticated user's (system:discovery), so kubectl got this far.
  ok(kubectlWithToken(token, ['api-versions']));
});

test('a role binding lets the account through, in its namespace and for its verbs only', () => {
  ok(
    api.kubectl([
      'create',
      'rolebinding',
      'robot-view',
      '--clusterrole=view',
      '--serviceaccount=default:robot',
    ]),
  );
  const listed = kubectlWithToken(token, ['get', 'pods']);
  assert.equal(listed.code, 0, listed.err);
  assert.match(listed.err, /No resources found in default namespace/);
  const elsewhere = kubectlWithToken(token, ['get', 'pods', '-n', 'kube-system']);
  assert.equal(elsewhere.code, 1);
  assert.match(
    elsewhere.err,
    /cannot list resource "pods" in API group "" in the namespace "kube-system"/,
  );
  const write = kubectlWithToken(token, ['run', 'x', '--image', 'y']);
  assert.equal(write.code, 1);
  assert.match(write.err, new RegExp(`User "${ROBOT}" cannot create resource "pods"`));
  const wide = ok(api.kubectl(['get', 'rolebindings', '-o', 'wide']));
  assert.match(wide, /^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS$/m);
  assert.match(wide, /^robot-view\s+ClusterRole\/view\s+\S+\s+default\/robot$/m);
});

test('kubectl auth can-i and whoami ask the server about the caller itself', () => {
  const can = (args: string[]) => kubectlWithToken(token, ['auth', 'can-i', ...args]);
  const yes = can(['list', 'pods']);
  assert.equal(yes.code, 0, yes.err);
  assert.equal(yes.out.trim(), 'yes');
  const elsewhere = can(['list', 'pods', '-n', 'kube-system']);
  assert.equal(elsewhere.code, 1);
  assert.equal(elsewhere.out.trim(), 'no');
  assert.equal(can(['create', 'pods']).out.trim(), 'no');
  assert.equal(can(['get', 'pods/status']).out.trim(), 'yes');
  const who = kubectlWithToken(token, ['auth', 'whoami', '-o', 'json']);
  assert.equal(who.code, 0, who.err);
  const info = (
    JSON.parse(who.out) as { status: { userInfo: { username: string; groups: string[] } } }
  ).status.userInfo;
  assert.equal(info.username, ROBOT);
  assert.ok(info.groups.includes('system:serviceaccounts:default'), info.groups.join(','));
  // The admin (system:masters) may do anything.
  assert.equal(ok(api.kubectl(['auth', 'can-i', '*', '*'])).trim(), 'yes');
});

test('podnet apiserver token signs the same way; a wrong token or a deleted account gets 401', () => {
  const minted = ok(
    api.podnet([
      'apiserver',
      'token',
      'robot',
      '-n',
      'default',
      '--duration',
      '20m',
      '--state-dir',
      join(api.dir, 'pki'),
    ]),
  ).trim();
  ok(kubectlWithToken(minted, ['get', 'services']));
  const short = api.podnet([
    'apiserver',
    'token',
    'robot',
    '--duration',
    '5m',
    '--state-dir',
    join(api.dir, 'pki'),
  ]);
  assert.equal(short.code, 2);
  assert.match(short.err, /--duration 5m: must be at least 10m/);

  const wrong = kubectlWithToken(`${minted.slice(0, -4)}AAAA`, ['get', 'pods']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /error: You must be logged in to the server \(Unauthorized\)/);
  ok(api.kubectl(['delete', 'serviceaccount', 'robot']));
  const gone = kubectlWithToken(minted, ['get', 'pods']);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /You must be logged in to the server \(Unauthorized\)/);
});

test('the default cluster roles and bindings are there, and the newer kinds print their columns', () => {
  const roles = ok(api.kubectl(['get', 'clusterroles']));
  assert.match(roles, /^NAME\s+CREATED AT$/m);
  for (const name of [
    'cluster-admin',
    'admin',
    'edit',
    'view',
    'system:discovery',
    'system:basic-user',
  ]) {
    assert.match(roles, new RegExp(`^${name}\\s+\\d{4}-\\d\\d-\\d\\dT`, 'm'), name);
  }
  const bindings = ok(api.kubectl(['get', 'clusterrolebindings', '-o', 'wide']));
  assert.match(bindings, /^cluster-admin\s+ClusterRole\/cluster-admin\s+\S+\s+system:masters\s*$/m);

  ok(
    api.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'external', namespace: 'default' },
            spec: { ports: [{ port: 80 }] },
          },
          {
            apiVersion: 'v1',
            kind: 'Endpoints',
            metadata: { name: 'external', namespace: 'default' },
            subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 8080 }] }],
          },
          {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: {
              name: 'external-1',
              namespace: 'default',
              labels: { 'kubernetes.io/service-name': 'external' },
            },
            addressType: 'IPv4',
            endpoints: [{ addresses: ['192.0.2.10'] }, { addresses: ['192.0.2.11'] }],
            ports: [{ port: 8080 }],
          },
        ],
      }),
    ),
  );
  const both = ok(api.kubectl(['get', 'endpointslices,endpoints', '-n', 'default']));
  assert.match(both, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$/m);
  assert.match(
    both,
    /^endpointslice\.discovery\.k8s\.io\/external-1\s+IPv4\s+8080\s+192\.0\.2\.10,192\.0\.2\.11\s/m,
  );
  assert.match(both, /^NAME\s+ENDPOINTS\s+AGE$/m);
  assert.match(both, /^endpoints\/external\s+192\.0\.2\.10:8080\s/m);
  const resources = ok(api.kubectl(['api-resources']));
  assert.match(resources, /^endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice$/m);
  assert.match(resources, /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m);
  assert.match(
    resources,
    /^rolebindings\s+rbac\.authorization\.k8s\.io\/v1\s+true\s+RoleBinding$/m,
  );
  assert.match(resources, /^serviceaccounts\s+sa\s+v1\s+true\s+ServiceAccount$/m);
});
