// EndpointSlices in the real lab: a Service without a selector is load-balanced over, and
// resolved to, the addresses of a slice written by hand (the controller leaves it alone); a
// pod being deleted shows in its service's slice as terminating, then not at all; and a pod
// with a preStop sleep keeps serving while every proxy takes it out, so no request fails.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSlice, Pod, Service } from '../../src/api/types.js';
import { findPodRecord } from '../../src/lab/pods.js';
import { podExec, podnet, podnetOk, readLab, until as untilWithin } from '../helpers/lab.js';
import { sharedLabWithPods } from '../helpers/shared-lab.js';

const WORKLOAD = `
apiVersion: v1
kind: Pod
metadata: { name: echo-1, namespace: default, labels: { app: echo } }
spec:
  nodeName: node-1
  containers: [{ name: main, command: [podnet, serve-echo, --port, '8080'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: echo-2, namespace: default, labels: { app: echo } }
spec:
  nodeName: node-2
  containers: [{ name: main, command: [podnet, serve-echo, --port, '8080'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: slow, namespace: default, labels: { app: slow } }
spec:
  nodeName: node-2
  # Ignores SIGTERM, so that its teardown takes the pod runner's grace period.
  containers: [{ name: main, command: [sh, -c, "trap '' TERM; sleep infinity"] }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: default }
spec:
  nodeName: node-1
  containers: [{ name: main, command: [sleep, infinity] }]
---
apiVersion: v1
kind: Pod
metadata: { name: drain-1, namespace: default, labels: { app: drain } }
spec:
  nodeName: node-2
  containers:
    - name: main
      command: [podnet, serve-echo, --port, '8080']
      lifecycle: { preStop: { sleep: { seconds: 5 } } }
---
apiVersion: v1
kind: Pod
metadata: { name: drain-2, namespace: default, labels: { app: drain } }
spec:
  nodeName: node-1
  containers: [{ name: main, command: [podnet, serve-echo, --port, '8080'] }]
---
apiVersion: v1
kind: Service
metadata: { name: drain, namespace: default }
spec:
  selector: { app: drain }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: slow, namespace: default }
spec:
  selector: { app: slow }
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: manual, namespace: default }
spec:
  ports: [{ name: http, port: 80, targetPort: 9000 }]
---
apiVersion: v1
kind: Service
metadata: { name: manual-headless, namespace: default }
spec:
  clusterIP: None
  ports: [{ name: http, port: 80 }]
`;

/** A hand-written slice for a selector-less service: no conditions (ready), no managed-by. */
const handSlice = (name: string, service: string, ips: string[]): string => `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}
  namespace: default
  labels: { kubernetes.io/service-name: ${service} }
addressType: IPv4
ports: [{ name: http, protocol: TCP, port: 8080 }]
endpoints:
${ips.map((ip) => `  - addresses: ['${ip}']`).join('\n')}
`;

const execAsync = promisify(execFile);

/** Pods starting and the elected controller acting may take up to a minute in this lab. */
const until = <T>(what: string, check: () => T | undefined): Promise<T> =>
  untilWithin(what, check, 60_000);

describe('endpoint slices in the lab', { concurrency: false }, () => {
  const { name, podIPs } = sharedLabWithPods(
    ['--nodes', '2'],
    WORKLOAD,
    ['echo-1', 'echo-2', 'slow', 'client', 'drain-1', 'drain-2'],
    () => {
      const echoes = [ip('echo-1'), ip('echo-2')];
      podnetOk(['--lab', name, 'apply', '-f', '-'], {
        input: [
          handSlice('manual-1', 'manual', echoes),
          handSlice('manual-headless-1', 'manual-headless', echoes),
        ].join('---\n'),
      });
    },
  );
  const ip = (pod: string): string => podIPs.get(pod)![0]!;
  const json = <T>(args: string[]): T | undefined => {
    const r = podnet(['--lab', name, ...args, '-o', 'json']);
    return r.status === 0 ? (JSON.parse(r.stdout) as T) : undefined;
  };
  const slicesOf = (service: string): EndpointSlice[] =>
    (json<{ items: EndpointSlice[] }>(['get', 'endpointslices'])?.items ?? []).filter(
      (s) => s.metadata.labels?.['kubernetes.io/service-name'] === service,
    );
  const exec = (argv: string[]) => podExec(name, 'client', argv);

  test('a selector-less service is load-balanced over a hand-written slice, and resolved', async () => {
    const svc = json<Service>(['get', 'service', 'manual'])!;
    const url = `http://${svc.spec.clusterIP}:80/`;
    const script = `for i in $(seq 40); do timeout 3 busybox wget -q -O - ${url} | sed 's/.*"pod":"\\([^"]*\\)".*/\\1/'; echo; done`;
    const seen = await until('both pods behind the hand-written slice', () => {
      const r = exec(['sh', '-c', script]);
      const pods = new Set(r.stdout.split('\n').filter(Boolean));
      return pods.has('echo-1') && pods.has('echo-2') ? pods : undefined;
    });
    assert.deepEqual([...seen].sort(), ['echo-1', 'echo-2']);
    const dns = `manual-headless.default.svc.cluster.local`;
    const answers = await until('the headless name to resolve', () => {
      const r = exec(['dig', '@10.96.0.10', '+short', '+time=2', '+tries=2', dns]);
      const got = r.stdout.trim().split('\n').filter(Boolean).sort();
      return got.length === 2 ? got : undefined;
    });
    assert.deepEqual(answers, [ip('echo-1'), ip('echo-2')].sort());
    // The controller left the hand-written slices as they were, and wrote none of its own.
    const manual = slicesOf('manual');
    assert.deepEqual(
      manual.map((s) => s.metadata.name),
      ['manual-1'],
    );
    assert.equal(manual[0]!.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], undefined);
    assert.equal(json(['get', 'endpoints', 'manual']), undefined);
  });

  test("a pod being deleted is its slice's terminating endpoint, then gone", async () => {
    const slowIP = ip('slow');
    const endpointOf = () =>
      slicesOf('slow')
        .flatMap((s) => s.endpoints)
        .find((e) => e.addresses[0] === slowIP);
    await until('the controller to list the pod', () =>
      endpointOf()?.conditions?.ready ? true : undefined,
    );
    // Beside the slices, the controller writes the legacy Endpoints, which `get endpoints` lists.
    const table = await until('the Endpoints to list the pod', () => {
      const r = podnet(['--lab', name, 'get', 'endpoints', 'slow']);
      return r.stdout.includes(`${slowIP}:8080`) ? r.stdout : undefined;
    });
    assert.match(
      table,
      new RegExp(
        `^NAME\\s+ENDPOINTS\\s+AGE\\nslow\\s+${slowIP.replaceAll('.', '\\.')}:8080\\s+\\S+\\n$`,
      ),
    );
    podnetOk(['--lab', name, 'delete', 'pod', 'slow']);
    const terminating = await until('the endpoint to turn terminating', () => {
      const e = endpointOf();
      return e?.conditions?.terminating ? e : undefined;
    });
    assert.deepEqual(terminating.conditions, { ready: false, serving: true, terminating: true });
    await until('the endpoint to go', () => (endpointOf() === undefined ? true : undefined));
    // The service keeps one (empty) slice; its Endpoints object lists nobody.
    assert.deepEqual(
      slicesOf('slow').map((s) => s.endpoints.length),
      [0],
    );
    const eps = json<{ subsets?: unknown[] }>(['get', 'endpoints', 'slow']);
    assert.equal(eps?.subsets, undefined);
  });
  test('a pod with a preStop sleep serves through it while proxies take it out: no request fails', async () => {
    const drainIP = ip('drain-1');
    const endpointOf = () =>
      slicesOf('drain')
        .flatMap((s) => s.endpoints)
        .find((e) => e.addresses[0] === drainIP);
    await until('both pods to be ready endpoints', () =>
      slicesOf('drain')
        .flatMap((s) => s.endpoints)
        .filter((e) => e.conditions?.ready).length === 2
        ? true
        : undefined,
    );
    const svc = json<Service>(['get', 'service', 'drain'])!;
    const client = findPodRecord(readLab(name)!.stateDir, 'default', 'client')!;
    // From node-1 for 8 s, before, through and after the deletion (the pod goes after its 5 s
    // sleep): requests by the service's address, and to the pod's own, each line stamped.
    const get = (url: string, what: string) =>
      `timeout 2 busybox wget -q -O /dev/null ${url} && echo "$(date +%s%3N) ${what} ok" || echo "$(date +%s%3N) ${what} failed"`;
    const loop = `end=$(($(date +%s) + 8)); while [ $(date +%s) -lt $end ]; do ${get(`http://${svc.spec.clusterIP}/`, 'service')}; ${get(`http://${drainIP}:8080/`, 'pod')}; done`;
    const requests = execAsync('ip', ['netns', 'exec', client.netns, 'sh', '-c', loop], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    await new Promise((r) => setTimeout(r, 500));
    podnetOk(['--lab', name, 'delete', 'pod', 'drain-1']);
    const marked = json<Pod>(['get', 'pod', 'drain-1']);
    assert.ok(marked, 'drain-1 was gone right after its deletion: its preStop sleep was not kept');
    const stamp = marked.metadata.deletionTimestamp!;
    // The stamp has whole seconds: the deletion was at most 1 s after it.
    const deleted = Date.parse(stamp);
    const terminating = await until('the endpoint to turn terminating', () => {
      const e = endpointOf();
      return e?.conditions?.terminating ? e : undefined;
    });
    assert.equal(terminating.conditions?.ready, false);
    await until('the pod to be gone', () =>
      json(['get', 'pod', 'drain-1']) === undefined ? true : undefined,
    );
    const lines = (await requests).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' '));
    const service = lines.filter(([, what]) => what === 'service');
    assert.ok(service.length >= 10, `only ${service.length} requests to the service in 8 s`);
    assert.deepEqual(
      service.filter(([, , outcome]) => outcome !== 'ok'),
      [],
      'requests to the service failed',
    );
    // Still running through its sleep: it answered on its own address 4 s after its deletion
    // (without the sleep, its runner stops it within a second or so).
    const answered = lines.filter(([, what, outcome]) => what === 'pod' && outcome === 'ok');
    const last = Math.max(...answered.map(([at]) => Number(at)));
    assert.ok(
      last >= deleted + 4000,
      `the deleted pod answered last ${last - deleted} ms after its deletion stamp`,
    );
  });
});
