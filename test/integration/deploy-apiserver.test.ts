// deploy/kubernetes/ against `podnet apiserver`: every object its server serves passes its strict
// validation (kubectl --dry-run=server, which asks for fieldValidation=Strict), workloads by their
// pod templates; and the ServiceAccounts with their ClusterRoles may do exactly what the agent and
// the DNS do, and are refused the rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ok, startTempApiServer, type TempApiServer } from '../helpers/apiserver.js';
import { DEPLOY_DIR, MODEL_FIXTURES, deployManifests } from '../helpers/deploy-manifests.js';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { template?: { metadata?: { labels?: Record<string, string> }; spec: unknown } };
}

let api: TempApiServer;

before(async () => {
  api = await startTempApiServer('pnt-deploy-');
});

after(() => api?.close());

function objectsIn(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o !== null);
}

/** Workloads are not served; their pod template is, as the Pod it would make. */
function asServed(obj: Manifest): Manifest | undefined {
  if (obj.kind === 'DaemonSet' || obj.kind === 'Deployment') {
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${obj.metadata.name}-template`,
        namespace: obj.metadata.namespace,
        labels: obj.spec!.template!.metadata?.labels,
      },
      spec: obj.spec!.template!.spec as Manifest['spec'],
    };
  }
  // CustomResourceDefinitions are checked against podnet's own schemas by a unit test.
  return obj.kind === 'CustomResourceDefinition' ? undefined : obj;
}

function dryRunCreate(obj: Manifest) {
  return api.kubectl(
    ['create', '--dry-run=server', '--validate=strict', '-o', 'name', '-f', '-'],
    JSON.stringify(obj),
  );
}

test('every served object in deploy/kubernetes/ passes the API server strict validation', () => {
  const checked: string[] = [];
  for (const file of deployManifests()) {
    for (const obj of objectsIn(file)) {
      const served = asServed(obj);
      if (!served) continue;
      const r = dryRunCreate(served);
      assert.equal(r.code, 0, `${file}: ${obj.kind} ${obj.metadata.name}: ${r.err}`);
      checked.push(`${served.kind}/${served.metadata.name}`);
    }
  }
  assert.deepEqual(checked.sort(), [
    'ClusterNetwork/default',
    'ClusterRole/podnet-agent',
    'ClusterRole/podnet-dns',
    'ClusterRoleBinding/podnet-agent',
    'ClusterRoleBinding/podnet-dns',
    'Pod/podnet-agent-template',
    'Pod/podnet-dns-template',
    'Service/kube-dns',
    'ServiceAccount/podnet-agent',
    'ServiceAccount/podnet-dns',
  ]);
});

test('the misspelled hostNetwrok is refused by the API server too', () => {
  const [daemonSet] = objectsIn(join(MODEL_FIXTURES, 'misspelled-host-network.yaml'));
  const r = dryRunCreate(asServed(daemonSet!)!);
  assert.equal(r.code, 1);
  assert.match(r.err, /strict decoding error: unknown field "spec.hostNetwrok"/);
});

/** A request as the holder of `token`, without the admin's client certificate. */
async function as(token: string, method: string, path: string, patch?: unknown) {
  const r = await api.fetch(path, {
    anonymous: true,
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(patch ? { 'content-type': 'application/merge-patch+json' } : {}),
    },
    body: patch ? JSON.stringify(patch) : undefined,
  });
  return {
    status: r.status,
    message: r.status === 200 ? '' : (JSON.parse(r.body) as { message: string }).message,
  };
}

const WATCH = '?watch=1&timeoutSeconds=1';

test('the agent and DNS accounts may do what the agent and DNS do, and nothing else', async () => {
  ok(api.kubectl(['apply', '-f', join(DEPLOY_DIR, '01-rbac.yaml')]));
  ok(api.kubectl(['apply', '-f', join(DEPLOY_DIR, '02-clusternetwork.yaml')]));
  ok(
    api.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} }),
    ),
  );
  const agent = ok(api.kubectl(['create', 'token', 'podnet-agent', '-n', 'kube-system'])).trim();
  const dns = ok(api.kubectl(['create', 'token', 'podnet-dns', '-n', 'kube-system'])).trim();

  const reads = {
    nodes: '/api/v1/nodes',
    pods: '/api/v1/pods',
    services: '/api/v1/services',
    namespaces: '/api/v1/namespaces',
    endpointslices: '/apis/discovery.k8s.io/v1/endpointslices',
    networkpolicies: '/apis/networking.k8s.io/v1/networkpolicies',
    clusternetworks: '/apis/podnet.io/v1/clusternetworks',
    bgppeers: '/apis/podnet.io/v1/bgppeers',
  };
  const dnsReads = ['services', 'namespaces', 'endpointslices', 'clusternetworks'];
  for (const [resource, path] of Object.entries(reads)) {
    for (const suffix of ['', WATCH]) {
      assert.equal((await as(agent, 'GET', path + suffix)).status, 200, `agent ${path}${suffix}`);
      const byDns = await as(dns, 'GET', path + suffix);
      if (dnsReads.includes(resource)) {
        assert.equal(byDns.status, 200, `dns ${path}${suffix}`);
      } else {
        assert.equal(byDns.status, 403, `dns ${path}${suffix}`);
        assert.match(byDns.message, new RegExp(`cannot (list|watch) resource "${resource}"`));
      }
    }
  }

  // The agent's writes: its peers' annotations on the Node, and NetworkUnavailable in its status.
  const annotate = { metadata: { annotations: { 'podnet.io/vtep-mac': '0a:58:0a:f4:01:01' } } };
  const condition = {
    status: { conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'PodnetIsUp' }] },
  };
  assert.equal((await as(agent, 'PATCH', '/api/v1/nodes/node-1', annotate)).status, 200);
  assert.equal((await as(agent, 'PATCH', '/api/v1/nodes/node-1/status', condition)).status, 200);
  const dnsWrite = await as(dns, 'PATCH', '/api/v1/nodes/node-1', annotate);
  assert.equal(dnsWrite.status, 403);
  assert.match(dnsWrite.message, /cannot patch resource "nodes"/);

  const refused: [string, string, string, unknown?][] = [
    ['create', 'POST', '/api/v1/namespaces/default/pods', {}],
    ['delete', 'DELETE', '/api/v1/namespaces/kube-system/services/kube-dns'],
    ['patch', 'PATCH', '/apis/podnet.io/v1/clusternetworks/default', { spec: { mtu: 1400 } }],
    ['delete', 'DELETE', '/api/v1/nodes/node-1'],
    ['list', 'GET', '/api/v1/serviceaccounts'],
    ['create', 'POST', '/api/v1/namespaces/kube-system/serviceaccounts/podnet-agent/token', {}],
  ];
  for (const [verb, method, path, body] of refused) {
    const r = await as(agent, method, path, body);
    assert.equal(r.status, 403, `agent ${method} ${path}: ${r.message}`);
    assert.match(r.message, new RegExp(`cannot ${verb} resource`));
  }
});
