// Service cluster IPs against a real sqlite store, including concurrent applies.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLUSTER_NETWORK, type Service } from '../../src/api/types.js';
import {
  SERVICE_IP_PREFIX,
  assignClusterIP,
  releaseClusterIP,
} from '../../src/ipam/service-ips.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { DataError, UsageError } from '../../src/util/errors.js';

let dir: string;
let store: Store;
const net = { ...DEFAULT_CLUSTER_NETWORK, serviceCIDR: '10.96.0.0/24', dnsIP: '10.96.0.10' };

const svc = (name: string, spec: Partial<Service['spec']> = {}, namespace = 'shop'): Service => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace },
  spec: { ports: [{ port: 80 }], selector: { app: name }, ...spec },
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'podnet-svcip-test-'));
  store = await openStore(`sqlite:${join(dir, 'store.db')}`);
});

after(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('ipam-service-ips: concurrent applies never share an address; the DNS IP stays reserved', async () => {
  const services = Array.from({ length: 100 }, (_, i) => svc(`s${i}`));
  const assigned = await Promise.all(services.map((s) => assignClusterIP(store, s, net)));
  const ips = assigned.map((s) => s.spec.clusterIP!);
  assert.equal(new Set(ips).size, 100);
  for (const ip of ips) assert.match(ip, /^10\.96\.0\.\d+$/);
  assert.ok(!ips.includes('10.96.0.10'));
  assert.ok(!ips.includes('10.96.0.0') && !ips.includes('10.96.0.255'));
  assert.deepEqual(assigned[0]!.spec.clusterIPs, [assigned[0]!.spec.clusterIP]);
  // Applying the same service again keeps its address.
  assert.equal((await assignClusterIP(store, services[3]!, net)).spec.clusterIP, ips[3]);
  for (const s of assigned) await releaseClusterIP(store, s);
  assert.deepEqual((await store.list(SERVICE_IP_PREFIX)).items, []);
});

test('ipam-service-ips: a requested address is kept when free, refused when taken or outside', async () => {
  const a = await assignClusterIP(store, svc('a', { clusterIP: '10.96.0.20' }), net);
  assert.equal(a.spec.clusterIP, '10.96.0.20');
  assert.equal(
    (await assignClusterIP(store, svc('a', { clusterIP: '10.96.0.20' }), net)).spec.clusterIP,
    '10.96.0.20',
  );
  const refused = async (s: Service, message: RegExp) =>
    assert.rejects(
      assignClusterIP(store, s, net),
      (e: Error) => e instanceof UsageError && message.test(e.message),
    );
  await refused(
    svc('b', { clusterIP: '10.96.0.20' }),
    /^spec\.clusterIP 10\.96\.0\.20: already allocated to service shop\/a$/,
  );
  await refused(
    svc('b', { clusterIP: '10.97.0.1' }),
    /^spec\.clusterIP 10\.97\.0\.1: not a usable address of the service CIDR 10\.96\.0\.0\/24/,
  );
  await refused(
    svc('b', { clusterIP: 'ten' }),
    /^spec\.clusterIP "ten": not an IPv4 or IPv6 address/,
  );
  // Read as octal elsewhere (inet_aton: 8.96.0.5), so refused rather than taken as 10.96.0.5.
  await refused(svc('b', { clusterIP: '010.96.0.5' }), /^spec\.clusterIP "010\.96\.0\.5": not an/);
  await refused(svc('b', { clusterIP: '10.96.0.10' }), /reserved for the cluster DNS/);
  const dns = await assignClusterIP(store, svc('kube-dns', {}, 'kube-system'), net);
  assert.equal(dns.spec.clusterIP, '10.96.0.10');
  await releaseClusterIP(store, a);
  // Released: another service may now have it.
  assert.equal(
    (await assignClusterIP(store, svc('b', { clusterIP: '10.96.0.20' }), net)).spec.clusterIP,
    '10.96.0.20',
  );
});

test("ipam-service-ips: a malformed stored ClusterNetwork is a data error, not the user's", async () => {
  await assert.rejects(
    assignClusterIP(store, svc('c'), { ...net, serviceCIDR: '10.96.0/24' }),
    (e: Error) =>
      e instanceof DataError &&
      e.exitCode === 1 &&
      /^ClusterNetwork: spec\.serviceCIDR "10\.96\.0\/24": not an IPv4 or IPv6 prefix/.test(
        e.message,
      ),
  );
});

test('ipam-service-ips: headless stays headless, ExternalName gets no address', async () => {
  const headless = await assignClusterIP(store, svc('h', { clusterIP: 'None' }), net);
  assert.equal(headless.spec.clusterIP, 'None');
  const ext = await assignClusterIP(
    store,
    svc('e', { type: 'ExternalName', externalName: 'example.org' }),
    net,
  );
  assert.equal(ext.spec.clusterIP, undefined);
});
