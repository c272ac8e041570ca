// Service families as Kubernetes allocates them: SingleStack by default, PreferDualStack takes
// what the cluster has, RequireDualStack needs both; one reservation per family, all undone
// when the manifest is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { getObject } from '../../src/store/objects.js';
import { validateObject } from '../../src/api/validate.js';
import { DEFAULT_CLUSTER_NETWORK, type ClusterNetwork, type Service } from '../../src/api/types.js';
import { applyManifest } from '../../src/registry/apply.js';
import { releaseService } from '../../src/registry/services.js';
import { assignClusterIP, SERVICE_IP_PREFIX } from '../../src/ipam/service-ips.js';
import { parseCidr, parseIP, containsIP } from '../../src/net/index.js';

const single = DEFAULT_CLUSTER_NETWORK;
const dual: ClusterNetwork['spec'] = {
  ...DEFAULT_CLUSTER_NETWORK,
  clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
  serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/112'],
  dnsIPs: ['10.96.0.10', 'fd00:10:96::a'],
};
const V6_RANGE = parseCidr('fd00:10:96::/112');

const memoryStore = (): Promise<Store> => openStore('sqlite::memory:');

function svc(name: string, spec: Partial<Service['spec']> = {}): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { type: 'ClusterIP', selector: { app: name }, ports: [{ port: 80 }], ...spec },
  };
}

async function reservations(store: Store): Promise<[string, string][]> {
  return (await store.list(SERVICE_IP_PREFIX)).items.map((kv) => [kv.key, kv.value]);
}

async function stored(store: Store, name: string): Promise<Service['spec']> {
  return (await getObject(store, 'Service', 'default', name))!.spec;
}

test('service families: a single-stack cluster gives SingleStack IPv4, PreferDualStack too', async () => {
  const store = await memoryStore();
  const plain = await assignClusterIP(store, svc('plain'), single);
  assert.deepEqual(plain.spec.ipFamilies, ['IPv4']);
  assert.equal(plain.spec.ipFamilyPolicy, 'SingleStack');
  assert.deepEqual(plain.spec.clusterIPs, [plain.spec.clusterIP]);
  const prefer = await assignClusterIP(
    store,
    svc('prefer', { ipFamilyPolicy: 'PreferDualStack' }),
    single,
  );
  assert.deepEqual(prefer.spec.ipFamilies, ['IPv4']);
  assert.equal(prefer.spec.clusterIPs!.length, 1);
  await assert.rejects(
    assignClusterIP(store, svc('both', { ipFamilyPolicy: 'RequireDualStack' }), single),
    /^UsageError: spec\.ipFamilyPolicy: RequireDualStack needs a dual-stack cluster, and ClusterNetwork serviceCIDRs has only IPv4/,
  );
});

test('service families: RequireDualStack gets one address per family, kept on re-apply', async () => {
  const store = await memoryStore();
  await applyManifest(store, [svc('web', { ipFamilyPolicy: 'RequireDualStack' })], dual);
  const spec = await stored(store, 'web');
  assert.deepEqual(spec.ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(spec.clusterIPs!.length, 2);
  assert.equal(spec.clusterIP, spec.clusterIPs![0]);
  assert.ok(containsIP(parseCidr('10.96.0.0/16'), parseIP(spec.clusterIPs![0]!)));
  assert.ok(containsIP(V6_RANGE, parseIP(spec.clusterIPs![1]!)));
  await applyManifest(store, [svc('web', { ipFamilyPolicy: 'RequireDualStack' })], dual);
  assert.deepEqual((await stored(store, 'web')).clusterIPs, spec.clusterIPs);
  assert.equal((await reservations(store)).length, 2);
  await releaseService(store, await getObject(store, 'Service', 'default', 'web').then((s) => s!));
  assert.deepEqual(await reservations(store), []);
});

test('service families: ipFamilies and clusterIPs choose the families and the addresses', async () => {
  const store = await memoryStore();
  const v6 = await assignClusterIP(store, svc('v6', { ipFamilies: ['IPv6'] }), dual);
  assert.deepEqual(v6.spec.ipFamilies, ['IPv6']);
  assert.ok(containsIP(V6_RANGE, parseIP(v6.spec.clusterIP!)));
  const asked = await assignClusterIP(
    store,
    svc('asked', { clusterIPs: ['fd00:10:96::20', '10.96.0.20'] }),
    dual,
  );
  assert.equal(asked.spec.ipFamilyPolicy, 'RequireDualStack');
  assert.deepEqual(asked.spec.ipFamilies, ['IPv6', 'IPv4']);
  assert.deepEqual(asked.spec.clusterIPs, ['fd00:10:96::20', '10.96.0.20']);
  assert.equal(asked.spec.clusterIP, 'fd00:10:96::20');
  const dns = await assignClusterIP(
    store,
    {
      ...svc('kube-dns', { ipFamilyPolicy: 'PreferDualStack' }),
      metadata: { name: 'kube-dns', namespace: 'kube-system' },
    },
    dual,
  );
  assert.deepEqual(dns.spec.clusterIPs, ['10.96.0.10', 'fd00:10:96::a']);
});

/** Each refused service and the one line validation gives for it on the dual-stack cluster. */
const REFUSED: [string, Partial<Service['spec']>, ClusterNetwork['spec'], RegExp][] = [
  [
    'SingleStack with two families',
    { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4', 'IPv6'] },
    dual,
    /spec\.ipFamilyPolicy: must be PreferDualStack or RequireDualStack when spec\.ipFamilies lists two, got SingleStack$/,
  ],
  [
    'a duplicate family',
    { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv6'] },
    dual,
    /spec\.ipFamilies\[1\]: duplicate family IPv6$/,
  ],
  [
    "a family that is not its address's",
    { clusterIP: '10.96.0.30', ipFamilies: ['IPv6'] },
    dual,
    /spec\.ipFamilies\[0\]: must be IPv4, the family of spec\.clusterIPs\[0\] "10\.96\.0\.30", got IPv6$/,
  ],
  [
    'an IPv6 family on an IPv4 cluster',
    { ipFamilies: ['IPv6'] },
    single,
    /spec\.ipFamilies\[0\]: IPv6 is not a service family of this cluster \(ClusterNetwork serviceCIDRs has IPv4\)$/,
  ],
  [
    'RequireDualStack on an IPv4 cluster',
    { ipFamilyPolicy: 'RequireDualStack' },
    single,
    /spec\.ipFamilyPolicy: RequireDualStack needs a dual-stack cluster/,
  ],
  [
    'an IPv6 address outside the IPv6 service CIDR',
    { clusterIPs: ['10.96.0.30', 'fd00:99::1'] },
    dual,
    /spec\.clusterIPs\[1\]: must be inside the service CIDR fd00:10:96::\/112, got "fd00:99::1"$/,
  ],
  [
    'clusterIP that is not clusterIPs[0]',
    { clusterIP: '10.96.0.30', clusterIPs: ['10.96.0.31'] },
    dual,
    /spec\.clusterIPs\[0\]: must equal spec\.clusterIP "10\.96\.0\.30", got "10\.96\.0\.31"$/,
  ],
];

for (const [what, spec, network, message] of REFUSED) {
  test(`service families: ${what} is refused in one line`, () => {
    const r = validateObject(svc('web', spec), { network });
    assert.equal(r.errors.length, 1, r.errors.join('\n'));
    assert.match(r.errors[0]!, /^Service default\/web: /);
    assert.match(r.errors[0]!, message);
  });
}

test('service families: a refused second family undoes the first reservation', async () => {
  const store = await memoryStore();
  await applyManifest(
    store,
    [svc('holder', { ipFamilies: ['IPv6'], clusterIP: 'fd00:10:96::50' })],
    dual,
  );
  const before = await reservations(store);
  await assert.rejects(
    applyManifest(store, [svc('late', { clusterIPs: ['10.96.0.50', 'fd00:10:96::50'] })], dual),
    /spec\.clusterIPs\[1\] fd00:10:96::50: already allocated to service default\/holder/,
  );
  assert.deepEqual(await reservations(store), before);
  assert.equal(await getObject(store, 'Service', 'default', 'late'), undefined);
});

test('service families: SingleStack drops the secondary address; the primary family stays', async () => {
  const store = await memoryStore();
  await applyManifest(store, [svc('web', { ipFamilyPolicy: 'PreferDualStack' })], dual);
  const [v4] = (await stored(store, 'web')).clusterIPs!;
  await applyManifest(store, [svc('web', { ipFamilyPolicy: 'SingleStack' })], dual);
  const spec = await stored(store, 'web');
  assert.deepEqual(spec.clusterIPs, [v4]);
  assert.deepEqual(spec.ipFamilies, ['IPv4']);
  assert.equal((await reservations(store)).length, 1);
  await assert.rejects(
    applyManifest(store, [svc('web', { ipFamilies: ['IPv6'] })], dual),
    /spec\.ipFamilies\[0\]: cannot change the primary family from IPv4 to IPv6/,
  );
});
