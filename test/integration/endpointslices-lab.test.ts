// EndpointSlices in the real lab: a Service without a selector is load-balanced over, and
// resolved to, the addresses of a slice written by hand (the controller leaves it alone), and a
// pod being deleted shows in its service's slice as terminating, then not at all.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EndpointSlice, Service } from '../../src/api/types.js';
import { podnet, podnetOk, until as untilWithin } from '../helpers/lab.js';
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

/** Pods starting and the elected controller acting may take up to a minute in this lab. */
const until = <T>(what: string, check: () => T | undefined): Promise<T> =>
  untilWithin(what, check, 60_000);

describe('endpoint slices in the lab', { concurrency: false }, () => {
  const { name, podIPs } = sharedLabWithPods(
    ['--nodes', '2'],
    WORKLOAD,
    ['echo-1', 'echo-2', 'slow', 'client'],
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
  const exec = (argv: string[]) =>
    podnet(['lab', 'exec', '--name', name, '-n', 'default', 'client', '--', ...argv], {
      timeoutMs: 60_000,
    });

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
});
