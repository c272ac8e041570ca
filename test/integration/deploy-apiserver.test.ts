// deploy/kubernetes/ against `podnet apiserver`: every object its server serves passes its strict
// validation (kubectl --dry-run=server, which asks for fieldValidation=Strict), workloads by their
// pod templates; the ServiceAccounts may do exactly what their ClusterRoles list (every verb on
// every resource probed), and that is enough for what the agent and the DNS do.
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
async function as(token: string, method: string, path: string, body?: unknown) {
  const r = await api.fetch(path, {
    anonymous: true,
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: r.body };
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
/** Where each resource lives: its group, and whether it is namespaced. */
const RESOURCES: Record<string, { group: string; namespaced: boolean }> = {
  nodes: { group: '', namespaced: false },
  namespaces: { group: '', namespaced: false },
  pods: { group: '', namespaced: true },
  services: { group: '', namespaced: true },
  endpoints: { group: '', namespaced: true },
  serviceaccounts: { group: '', namespaced: true },
  endpointslices: { group: 'discovery.k8s.io', namespaced: true },
  networkpolicies: { group: 'networking.k8s.io', namespaced: true },
  leases: { group: 'coordination.k8s.io', namespaced: true },
  clusternetworks: { group: 'podnet.io', namespaced: false },
  bgppeers: { group: 'podnet.io', namespaced: false },
  clusterroles: { group: 'rbac.authorization.k8s.io', namespaced: false },
  clusterrolebindings: { group: 'rbac.authorization.k8s.io', namespaced: false },
};
const SUBRESOURCES: Record<string, string[]> = {
  status: ['get', 'update', 'patch'],
  token: ['create'],
};

/**
 * The request that needs `verb` on `resource` (`pods/status` names a subresource); writes are
 * dry runs of objects that do not exist, so nothing changes whatever is allowed.
 */
function requestFor(verb: string, resource: string): [string, string, unknown?] {
  const [plural, sub] = resource.split('/') as [string, string | undefined];
  const { group, namespaced } = RESOURCES[plural]!;
  const base = group === '' ? '/api/v1' : `/apis/${group}/v1`;
  const collection = `${base}${namespaced ? '/namespaces/default' : ''}/${plural}`;
  const item = `${collection}/probe${sub ? `/${sub}` : ''}`;
  if (sub === 'token') return ['POST', `${item}?dryRun=All`, {}];
  switch (verb) {
    case 'list':
      return ['GET', `${base}/${plural}`];
    case 'watch':
      return ['GET', `${base}/${plural}?watch=1&timeoutSeconds=1`];
    case 'get':
      return ['GET', item];
    case 'create':
      return ['POST', `${collection}?dryRun=All`, {}];
    case 'update':
      return ['PUT', `${item}?dryRun=All`, {}];
    case 'patch':
      return ['PATCH', `${item}?dryRun=All`, {}];
    default:
      return ['DELETE', `${item}?dryRun=All`];
  }
}

function grants(rules: Rule[], verb: string, resource: string): boolean {
  const group = RESOURCES[resource.split('/')[0]!]!.group;
  return rules.some(
    (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
  );
}

/** The resources and subresources the API server serves, from its discovery documents. */
async function servedResources(): Promise<Set<string>> {
  const groups = new Set(Object.values(RESOURCES).map((r) => r.group));
  const served = new Set<string>();
  for (const group of groups) {
    const r = await api.fetch(group === '' ? '/api/v1' : `/apis/${group}/v1`);
    for (const res of (JSON.parse(r.body) as { resources: { name: string }[] }).resources) {
      served.add(res.name);
    }
  }
  return served;
}

/**
 * Every verb on every resource either account might touch, and a few it must not; subresources
 * podnet's server does not serve (Kubernetes' namespaces/status, say) answer 404 to anyone, so
 * they are left out, but every resource itself must be served.
 */
async function everyRequest(roles: Rule[][]): Promise<[string, string][]> {
  const named = roles.flat().flatMap((r) => r.resources);
  const served = await servedResources();
  for (const resource of Object.keys(RESOURCES)) assert.ok(served.has(resource), resource);
  const resources = new Set(
    [...Object.keys(RESOURCES), ...named, 'serviceaccounts/token'].filter((r) => served.has(r)),
  );
  return [...resources].flatMap((resource) => {
    const sub = resource.split('/')[1];
    return (sub ? SUBRESOURCES[sub]! : VERBS).map((verb): [string, string] => [verb, resource]);
  });
}

test('the agent and DNS accounts may do exactly what their ClusterRoles list', async () => {
  ok(api.kubectl(['apply', '-f', join(DEPLOY_DIR, '01-rbac.yaml')]));
  const roles = Object.fromEntries(
    objectsIn(join(DEPLOY_DIR, '01-rbac.yaml'))
      .filter((o) => o.kind === 'ClusterRole')
      .map((o) => [o.metadata.name, (o as unknown as { rules: Rule[] }).rules]),
  );
  const requests = await everyRequest(Object.values(roles));
  for (const account of ['podnet-agent', 'podnet-dns']) {
    const token = ok(api.kubectl(['create', 'token', account, '-n', 'kube-system'])).trim();
    const rules = roles[account]!;
    const answers = await Promise.all(
      requests.map(async ([verb, resource]) => {
        const [method, path, body] = requestFor(verb, resource);
        return { verb, resource, path, ...(await as(token, method, path, body)) };
      }),
    );
    for (const a of answers) {
      const what = `${account}: ${a.verb} ${a.resource} (${a.path}): ${a.status} ${a.body}`;
      if (grants(rules, a.verb, a.resource)) {
        assert.notEqual(a.status, 403, what);
        assert.notEqual(a.status, 401, what);
      } else {
        assert.equal(a.status, 403, what);
        const refused = JSON.parse(a.body) as { message: string };
        const [plural, sub] = a.resource.split('/');
        assert.match(refused.message, new RegExp(`cannot ${a.verb} resource "${plural}`), what);
        if (sub) assert.match(refused.message, new RegExp(sub), what);
      }
    }
  }
});

const AGENT_READS = [
  '/api/v1/nodes',
  '/api/v1/pods',
  '/api/v1/services',
  '/api/v1/namespaces',
  '/apis/discovery.k8s.io/v1/endpointslices',
  '/apis/networking.k8s.io/v1/networkpolicies',
  '/apis/coordination.k8s.io/v1/leases',
  '/apis/podnet.io/v1/clusternetworks',
  '/apis/podnet.io/v1/bgppeers',
];
const DNS_READS = [
  '/api/v1/services',
  '/api/v1/namespaces',
  '/apis/discovery.k8s.io/v1/endpointslices',
  '/apis/podnet.io/v1/clusternetworks',
];

test('what the agent and the DNS do goes through: their lists and watches, the agent writes', async () => {
  ok(
    api.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' }, spec: {} }),
    ),
  );
  const agent = ok(api.kubectl(['create', 'token', 'podnet-agent', '-n', 'kube-system'])).trim();
  const dns = ok(api.kubectl(['create', 'token', 'podnet-dns', '-n', 'kube-system'])).trim();
  for (const [token, paths] of [
    [agent, AGENT_READS],
    [dns, DNS_READS],
  ] as const) {
    for (const path of paths) {
      for (const query of ['', '?watch=1&timeoutSeconds=1']) {
        const r = await as(token, 'GET', path + query);
        assert.equal(r.status, 200, `${path}${query}: ${r.body}`);
      }
    }
  }
  const node = JSON.parse((await as(agent, 'GET', '/api/v1/nodes/node-1')).body) as {
    status?: { conditions?: unknown[] };
  };
  node.status = {
    conditions: [{ type: 'NetworkUnavailable', status: 'False', reason: 'PodnetIsUp' }],
  };
  const updated = await as(agent, 'PUT', '/api/v1/nodes/node-1/status', node);
  assert.equal(updated.status, 200, updated.body);
  const lease = await as(
    agent,
    'POST',
    '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases',
    {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'podnet-subnet-probe', namespace: 'kube-system' },
      spec: { holderIdentity: 'node-1', leaseDurationSeconds: 60 },
    },
  );
  assert.equal(lease.status, 201, lease.body);
});
