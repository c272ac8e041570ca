// The API server in the lab, driven by real clients only: `lab up` writes a kubeconfig; with it
// and kubectl 1.32 alone, pods get IPs and run, a Service is answered by the cluster DNS and
// load-balanced over its pods, `kubectl delete -f` of a whole namespace exits 0, and Debian's
// Python client lists, creates and watches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SETTLE_MS } from '../../src/agent/namespace-controller.js';
import { findProcess } from '../../src/lab/supervisor.js';
import { isRunning, signalGroup } from '../../src/process/daemons.js';
import { DEMO_MANIFEST, echoGetOnce, podExec, podnet, readLab, until } from '../helpers/lab.js';
import { ok } from '../helpers/apiserver.js';
import { sharedLab } from '../helpers/shared-lab.js';

const PYTHON_CLIENT = new URL('../../../test/integration/python/client_library.py', import.meta.url)
  .pathname;

const lab = sharedLab(['--nodes', '2']);

function kubeconfig(): string {
  return readLab(lab)!.apiServer!.kubeconfig;
}

function kubectl(args: string[], input?: string) {
  const r = spawnSync('/usr/bin/kubectl', args, {
    encoding: 'utf8',
    input,
    timeout: 120_000,
    env: { ...process.env, KUBECONFIG: kubeconfig() },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** An echo pod (`podnet serve-echo`, as the lab's pods run) labelled app=APP. */
function echoPod(name: string, node: string, app = 'kweb'): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default, labels: {app: ${app}}}
spec:
  nodeName: ${node}
  containers:
    - name: echo
      command: [podnet, serve-echo, --port, '8080']
`;
}

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: kweb, namespace: default}
spec:
  selector: {app: kweb}
  ports: [{name: http, port: 80, targetPort: 8080}]
`;

function podIP(name: string): string | undefined {
  const r = kubectl(['get', 'pod', name, '-o', 'jsonpath={.status.phase} {.status.podIP}']);
  const [phase, ip] = r.out.split(' ');
  return r.code === 0 && phase === 'Running' && ip ? ip : undefined;
}

function inPod(pod: string, command: string[]) {
  return podExec(lab, pod, command);
}

test('lab up: the kubeconfig reaches the API server, and lab status shows it', () => {
  const state = readLab(lab)!;
  assert.ok(state.apiServer, 'lab.json names the API server');
  assert.ok(existsSync(state.apiServer.kubeconfig));
  assert.match(state.apiServer.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(state.apiServer.hostUrl, 'https://172.31.1.254:6443');
  assert.match(ok(kubectl(['get', 'nodes'])), /^node-2\s+Ready\s/m);
  const status = podnet(['lab', 'status', '--name', lab]);
  assert.match(
    status.stdout,
    /^api server: https:\/\/127\.0\.0\.1:\d+ \(hosts: https:\/\/172\.31\.1\.254:6443\)/m,
  );
  // Hosts reach it over the underlay, with the same CA.
  const host = state.hosts[1]!;
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      host.netns,
      '/usr/bin/kubectl',
      '--server',
      state.apiServer.hostUrl,
      'get',
      'ns',
      'default',
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, KUBECONFIG: state.apiServer.kubeconfig },
    },
  );
  assert.equal(r.status, 0, r.stderr);
});

test('kubectl alone: pods get IPs and run; a Service is answered by the cluster DNS and load-balanced', async () => {
  ok(
    kubectl(
      ['apply', '-f', '-'],
      [
        echoPod('kweb-1', 'node-1'),
        echoPod('kweb-2', 'node-2'),
        echoPod('kclient', 'node-2', 'kclient'),
        SERVICE,
      ].join('---\n'),
    ),
  );
  const ips = await until(
    'the pods running with IPs',
    () => {
      const all = ['kweb-1', 'kweb-2', 'kclient'].map(podIP);
      return all.every((ip) => ip) ? all : undefined;
    },
    60_000,
  );
  assert.equal(new Set(ips).size, 3);
  const clusterIP = ok(kubectl(['get', 'svc', 'kweb', '-o', 'jsonpath={.spec.clusterIP}']));
  const name = 'kweb.default.svc.cluster.local';
  await until(
    `${name} from the cluster DNS`,
    () => {
      const dig = inPod('kclient', ['dig', '+short', '+time=2', '+tries=1', name]);
      return dig.stdout.trim() === clusterIP ? true : undefined;
    },
    30_000,
  );
  const served = new Set<string>();
  await until(
    'requests served by both pods',
    () => {
      const answer = echoGetOnce(lab, 'kclient', `http://${name}/`);
      if (answer) served.add(answer.pod);
      return served.size === 2 ? true : undefined;
    },
    60_000,
  );
  assert.deepEqual([...served].sort(), ['kweb-1', 'kweb-2']);

  // Graceful deletion: kubectl returns once the node has torn the pod down and it is gone.
  assert.match(ok(kubectl(['delete', 'pod', 'kweb-2'])), /pod "kweb-2" deleted/);
  assert.match(kubectl(['get', 'pod', 'kweb-2']).err, /NotFound|not found/);
  assert.equal(podnet(['--lab', lab, 'get', 'pod', 'kweb-2']).status, 1);
  ok(kubectl(['delete', 'svc', 'kweb']));
  ok(kubectl(['delete', 'pod', 'kweb-1', 'kclient']));
});

test('kubectl delete -f of a manifest with its Namespace exits 0; the namespace goes once it is empty', async () => {
  ok(kubectl(['apply', '-f', DEMO_MANIFEST]));
  await until(
    'a demo pod running',
    () =>
      kubectl(['get', 'pod', 'echo-1', '-n', 'my-namespace', '-o', 'jsonpath={.status.phase}'])
        .out === 'Running'
        ? true
        : undefined,
    60_000,
  );
  const out = ok(kubectl(['delete', '-f', DEMO_MANIFEST]));
  assert.match(out, /^namespace "my-namespace" deleted$/m);
  assert.match(out, /^service "my-svc" deleted$/m);
  assert.match(out, /^pod "client" deleted$/m);
  const ns = kubectl(['get', 'ns', 'my-namespace']);
  assert.equal(ns.code, 1, ns.out);
  assert.match(ns.err, /NotFound|not found/);
});

test('kubectl delete namespace: Terminating at first, emptied by the namespace controller, then gone', async () => {
  ok(kubectl(['apply', '-f', '-'], 'apiVersion: v1\nkind: Namespace\nmetadata: {name: ktmp}\n'));
  ok(kubectl(['apply', '-f', '-'], SERVICE.replace('namespace: default', 'namespace: ktmp')));
  // The controller empties the namespace SETTLE_MS after the delete, not before: whatever is
  // read within that time must show the namespace Terminating and its service still there.
  // (On a machine so loaded that the reads take longer, the controller may rightly be done.)
  // It counts from the deletion's stamp, which has whole seconds: up to 1 s before the delete.
  const deleting = Date.now();
  ok(kubectl(['delete', 'namespace', 'ktmp', '--wait=false']));
  const svc = kubectl(['get', 'svc', 'kweb', '-n', 'ktmp', '-o', 'name']);
  const ns = kubectl(['get', 'ns', 'ktmp']);
  if (Date.now() - deleting < SETTLE_MS - 1000) {
    assert.equal(ok(svc).trim(), 'service/kweb');
    assert.match(ok(ns), /^ktmp\s+Terminating\s/m);
  } else {
    process.stderr.write(
      `namespace reads took ${Date.now() - deleting} ms, past the settle time\n`,
    );
  }
  await until(
    'the namespace gone',
    () => (kubectl(['get', 'ns', 'ktmp']).code === 1 ? true : undefined),
    30_000,
  );
  assert.match(kubectl(['get', 'svc', 'kweb', '-n', 'ktmp']).err, /NotFound|not found/);
});

test("Debian's Python client lists pods in all namespaces, creates a service and watches the next change", () => {
  const r = spawnSync('/usr/bin/python3', [PYTHON_CLIENT, 'py-client'], {
    encoding: 'utf8',
    timeout: 90_000,
    env: { ...process.env, KUBECONFIG: kubeconfig() },
  });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as {
    pods: string[];
    created: { name: string; clusterIP: string };
    watched: { type: string; labels: Record<string, string> };
  };
  assert.ok(seen.pods.includes('kube-system/coredns-0'), r.stdout);
  assert.equal(seen.created.name, 'py-client');
  assert.match(seen.created.clusterIP, /^10\.96\.\d+\.\d+$/);
  assert.equal(seen.watched.type, 'MODIFIED');
  assert.equal(seen.watched.labels.seen, 'yes');
});

test('lab repair brings back the API server and its relay on the port the kubeconfig names', async () => {
  const state = readLab(lab)!;
  const killed = ['apiserver', 'apiserver-relay'].map((id) => findProcess(state.stateDir, id)!);
  for (const p of killed) signalGroup(p, 'SIGKILL');
  await until('the API server and its relay gone', () =>
    killed.every((p) => !isRunning(p)) ? true : undefined,
  );
  assert.notEqual(kubectl(['get', 'nodes']).code, 0);
  const repaired = podnet(['lab', 'repair', '--name', lab]);
  assert.equal(repaired.status, 0, repaired.stderr);
  assert.match(repaired.stderr, /restarted apiserver-relay/);
  await until('kubectl through the same kubeconfig', () =>
    kubectl(['get', 'nodes']).code === 0 ? true : undefined,
  );
});
