// The cluster DNS in the lab, with real clients in real pods: DNS pods in kube-system running
// `podnet dns` from the lab's store behind kube-system/kube-dns at 10.96.0.10, dig for every
// record form, external names going to the underlay's resolver, and glibc's getent resolving
// a short name through the pod's search path.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startClusterDns } from '../../src/lab/cluster-dns-up.js';
import { planLab } from '../../src/lab/plan.js';
import type { Pod } from '../../src/api/types.js';
import type { LabState } from '../../src/lab/state.js';
import { createLogger } from '../../src/util/log.js';
import { LABS_DIR, podExec, podnet, podnetOk, readLab } from '../helpers/lab.js';
import { sharedLab } from '../helpers/shared-lab.js';

const S = 'my-namespace.svc.cluster.local';

const manifests = `
apiVersion: v1
kind: Namespace
metadata: { name: my-namespace }
---
apiVersion: v1
kind: Service
metadata: { name: my-svc, namespace: my-namespace }
spec:
  clusterIP: 10.96.0.20
  selector: { app: web }
  ports: [{ name: http, protocol: TCP, port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: my-namespace }
spec:
  clusterIP: None
  selector: { app: db }
  ports: [{ name: pg, protocol: TCP, port: 5432, targetPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ext, namespace: my-namespace }
spec: { type: ExternalName, externalName: www.example.test }
---
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: my-namespace, labels: { app: web } }
spec:
  nodeName: node-1
  containers: [{ name: echo, command: [podnet, serve-echo, --port, '8080'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: db-0, namespace: my-namespace, labels: { app: db } }
spec:
  nodeName: node-2
  hostname: db-0
  subdomain: db
  containers: [{ name: echo, command: [podnet, serve-echo, --port, '8080'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: my-namespace }
spec:
  nodeName: node-2
  containers: [{ name: echo, command: [podnet, serve-echo, --port, '8080'] }]
`;

describe('dns in the lab', () => {
  const name = sharedLab(['--nodes', '2', '--zones', '2']);
  let lab: LabState;
  let dnsIP = '';

  before(async () => {
    lab = readLab(name)!;
    // Until `lab up` calls the cluster DNS step itself, the test does (exactly once).
    const dnsSvc = podnet(['--lab', lab.name, 'get', 'svc', 'kube-dns', '-n', 'kube-system']);
    if (dnsSvc.status !== 0) {
      await startClusterDns(
        planLab(LABS_DIR, name, lab.options),
        lab.storeUrl,
        createLogger('test'),
      );
    }
    podnetOk(['--lab', lab.name, 'apply', '-f', '-'], { input: manifests });
    const deadline = Date.now() + 90_000;
    while (!dnsIP) {
      const r = podnet([
        '--lab',
        lab.name,
        'get',
        'pod',
        'coredns-0',
        '-n',
        'kube-system',
        '-o',
        'json',
      ]);
      dnsIP = r.status === 0 ? ((JSON.parse(r.stdout) as Pod).status?.podIP ?? '') : '';
      if (Date.now() > deadline) throw new Error('the DNS pod got no IP in 90 s');
      if (!dnsIP) await new Promise((r) => setTimeout(r, 500));
    }
    // Until every pod runs and the DNS answers.
    while (!dig('+short', `my-svc.${S}`).stdout.includes('10.96.0.20')) {
      if (Date.now() > deadline) throw new Error('the cluster DNS did not answer in 90 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  const exec = (argv: string[]) => podExec(lab.name, 'client', argv, 'my-namespace');
  /** dig through the kube-dns service IP (the proxy DNATs it to a DNS pod). */
  const dig = (...args: string[]) => exec(['dig', '@10.96.0.10', '+time=2', '+tries=2', ...args]);
  const short = (...args: string[]): string[] =>
    dig('+short', ...args)
      .stdout.trim()
      .split('\n')
      .filter(Boolean)
      .sort();

  test('A, SRV, PTR, TXT through the kube-dns service', () => {
    assert.deepEqual(short(`my-svc.${S}`), ['10.96.0.20']);
    assert.deepEqual(short(`_http._tcp.my-svc.${S}`, 'SRV'), [`0 100 80 my-svc.${S}.`]);
    assert.deepEqual(short('-x', '10.96.0.20'), [`my-svc.${S}.`]);
    assert.deepEqual(short('dns-version.cluster.local', 'TXT'), ['"1.1.0"']);
    assert.deepEqual(short('kube-dns.kube-system.svc.cluster.local'), ['10.96.0.10']);
  });

  test('headless service, its pod name, and a pod record', () => {
    const [ip] = short(`db.${S}`);
    assert.match(ip ?? '', /^10\.244\./);
    assert.deepEqual(short(`db-0.db.${S}`), [ip]);
    assert.deepEqual(short(`${ip!.replace(/\./g, '-')}.my-namespace.pod.cluster.local`), [ip]);
  });

  test('ExternalName: CNAME to the underlay resolver name, and its address', () => {
    assert.deepEqual(short(`ext.${S}`, 'CNAME'), ['www.example.test.']);
    assert.deepEqual(short(`ext.${S}`), ['192.0.2.80', 'www.example.test.']);
  });

  test('NXDOMAIN with the SOA; TCP; external names forwarded to the underlay resolver', () => {
    const nx = dig(`nope.${S}`).stdout;
    assert.match(nx, /status: NXDOMAIN/);
    assert.match(nx, /^cluster\.local\.\s+\d+\s+IN\s+SOA\s/m);
    assert.deepEqual(short('+tcp', `my-svc.${S}`), ['10.96.0.20']);
    assert.deepEqual(short('api.example.test'), ['192.0.2.81']);
  });
  test('getent hosts my-svc from a pod in my-namespace, through the search path (glibc)', () => {
    const r = exec(['getent', 'hosts', 'my-svc']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim().replace(/\s+/g, ' '), `10.96.0.20 my-svc.${S}`);
  });

  test('the DNS pods answer directly too, across hosts', () => {
    const r = exec(['dig', `@${dnsIP}`, '+short', `my-svc.${S}`]);
    assert.equal(r.stdout.trim(), '10.96.0.20');
  });
});
