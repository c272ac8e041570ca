// `podnet flows` in a real lab (the demo's cluster, kept): the demo's requests from the client
// through my-svc are listed with their pods and the path each took, as lines and as JSON, and
// the agents' per-service counters rise. What conntrack never confirms shows too: a connection
// to a service with no pods as refused, one a NetworkPolicy dropped as denied naming it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Flow } from '../../src/flows/types.js';
import { podnet, podnetOk, sweepLeftovers, testLabName, until } from '../helpers/lab.js';
import { hostNs, hostSh } from '../helpers/trace-lab.js';
import { agentMetric } from '../helpers/agent-metrics.js';

const lab = testLabName();
const REQUESTS = 30;

function flowsJson(args: string[]): Flow[] {
  return (JSON.parse(podnetOk(['--lab', lab, 'flows', ...args, '-o', 'json'])) as { flows: Flow[] })
    .flows;
}

const metric = (node: string, name: string, service: string): number =>
  agentMetric(hostNs(lab, node), name, { service });

before(() => {
  sweepLeftovers();
  podnetOk(
    ['demo', '--name', lab, '--keep', '--ip-family', 'ipv4', '--requests', String(REQUESTS)],
    {
      timeoutMs: 240_000,
    },
  );
});

after(() => podnet(['lab', 'down', '--name', lab]));

test('flows: the demo’s requests, from the client through my-svc to each echo pod by its path', () => {
  const flows = flowsJson(['-n', 'my-namespace', '--service', 'my-svc']);
  assert.ok(flows.length >= REQUESTS, `${flows.length} flows through my-svc`);
  const paths = new Map<string, string>();
  for (const f of flows) {
    assert.equal(f.source.pod, 'my-namespace/client');
    assert.equal(f.protocol, 'tcp');
    assert.equal(f.verdict, 'forwarded');
    assert.match(f.destination.pod ?? '', /^my-namespace\/echo-[123]$/);
    paths.set(f.destination.pod!, f.path);
  }
  // The client is on node-1 with echo-1; echo-3 shares its zone, echo-2 is across zones.
  assert.deepEqual(Object.fromEntries(paths), {
    'my-namespace/echo-1': 'local',
    'my-namespace/echo-2': 'vxlan',
    'my-namespace/echo-3': 'direct',
  });
  const lines = podnetOk(['--lab', lab, 'flows', '--pod', 'client', '--service', 'my-svc']);
  assert.match(
    lines,
    /my-namespace\/client:\d+ → my-namespace\/my-svc:80 → my-namespace\/echo-2:8080 tcp vxlan forwarded/,
  );
});

test('flows: a closed connection carries its bytes; the per-service counters rise', () => {
  const before = metric('node-1', 'podnet_service_connections_total', 'my-svc');
  assert.ok(before >= REQUESTS, `connections counted: ${before}`);
  // The demo's connections wait out TIME_WAIT in conntrack; ending them now brings the
  // kernel's counters (DESTROY) without waiting two minutes.
  hostSh(lab, 'node-1', 'conntrack -D -p tcp --orig-port-dst 80 >/dev/null 2>&1 || true');
  const deadline = Date.now() + 30_000;
  let flows: Flow[] = [];
  let closed: Flow[] = [];
  while (Date.now() < deadline) {
    flows = flowsJson(['--service', 'my-svc']);
    closed = flows.filter((f) => f.traffic);
    if (closed.length === flows.length) break;
    execFileSync('sleep', ['0.5']);
  }
  const open = flows.filter((f) => !f.traffic);
  assert.deepEqual(open, [], `${closed.length} closed flows with counters`);
  assert.ok(closed.length >= REQUESTS, `${closed.length} closed flows with counters`);
  for (const f of closed) {
    assert.equal(f.state, 'closed');
    assert.ok(f.traffic!.sent.bytes > 0 && f.traffic!.received.bytes > 0);
    assert.ok(f.end! >= f.start);
  }
  assert.ok(metric('node-1', 'podnet_service_bytes_total', 'my-svc') > 0);
});

test('flows: bad input is refused with the valid verdicts named', () => {
  const r = podnet(['--lab', lab, 'flows', '--verdict', 'maybe']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--verdict maybe: must be one of forwarded, refused, denied/);
});

/** One HTTP GET from the demo's client pod; the answer does not matter, the flow does. */
function getFromClient(url: string): void {
  podnet([
    'lab',
    'exec',
    '--name',
    lab,
    '-n',
    'my-namespace',
    'client',
    '--',
    'timeout',
    '3',
    'busybox',
    'wget',
    '-q',
    '-O',
    '-',
    url,
  ]);
}

function objectJson<T>(args: string[]): T {
  return JSON.parse(podnetOk(['--lab', lab, 'get', ...args, '-o', 'json'])) as T;
}

test('flows: a connection to a service with no pods shows as refused', async () => {
  const service = [
    'apiVersion: v1',
    'kind: Service',
    'metadata: { name: nobody, namespace: my-namespace }',
    'spec:',
    '  selector: { app: nobody }',
    '  ports: [{ port: 80, targetPort: 8080 }]',
    '',
  ].join('\n');
  podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: service });
  try {
    const ip = objectJson<{ spec: { clusterIP: string } }>(['svc', 'nobody', '-n', 'my-namespace'])
      .spec.clusterIP;
    // The client's agent programs the reject rule as it processes the service: try until then.
    const refused = await until('a refused flow to my-namespace/nobody', () => {
      getFromClient(`http://${ip}/`);
      return flowsJson(['--verdict', 'refused', '--service', 'nobody'])[0];
    });
    assert.equal(refused.source.pod, 'my-namespace/client');
    assert.equal(refused.node, 'node-1');
    assert.equal(refused.reason, 'no endpoints');
    assert.deepEqual(refused.service, { namespace: 'my-namespace', name: 'nobody', ip, port: 80 });
    assert.match(
      podnetOk(['--lab', lab, 'flows', '--verdict', 'refused']),
      /my-namespace\/client:\d+ → my-namespace\/nobody:80 tcp local refused \(no endpoints\)/,
    );
  } finally {
    podnet(['--lab', lab, 'delete', 'svc', 'nobody', '-n', 'my-namespace']);
  }
});

test('flows: a connection a NetworkPolicy dropped shows as denied by that policy', async () => {
  const policy = [
    'apiVersion: networking.k8s.io/v1',
    'kind: NetworkPolicy',
    'metadata: { name: deny-echo, namespace: my-namespace }',
    'spec:',
    '  podSelector: { matchLabels: { app: echo } }',
    '  policyTypes: [Ingress]',
    '',
  ].join('\n');
  podnetOk(['--lab', lab, 'apply', '-f', '-'], { input: policy });
  try {
    const ip = objectJson<{ status: { podIP: string } }>(['pod', 'echo-2', '-n', 'my-namespace'])
      .status.podIP;
    const denied = await until('a denied flow to my-namespace/echo-2', () => {
      getFromClient(`http://${ip}:8080/`);
      return flowsJson(['--verdict', 'denied', '--pod', 'my-namespace/echo-2'])[0];
    });
    assert.equal(denied.source.pod, 'my-namespace/client');
    assert.equal(denied.destination.port, 8080);
    assert.equal(denied.node, 'node-2', 'the node that dropped it reports it');
    assert.deepEqual(denied.policies, ['my-namespace/deny-echo']);
    assert.match(
      podnetOk(['--lab', lab, 'flows', '--verdict', 'denied']),
      /my-namespace\/client:\d+ → my-namespace\/echo-2:8080 tcp \w+ denied by my-namespace\/deny-echo \(ingress of my-namespace\/echo-2\)/,
    );
  } finally {
    podnet(['--lab', lab, 'delete', 'netpol', 'deny-echo', '-n', 'my-namespace']);
  }
});
