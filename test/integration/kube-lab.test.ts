// `lab up --api kubernetes`: the lab as a Kubernetes cluster whose API is podnet's API server,
// every agent, pod runner and DNS pod reading it through the Kubernetes source with its own
// token. The demo's flow by name, objects from kubectl, hand-written EndpointSlices and their
// conditions, the API server stopped for a minute, a watch told 410, and a refused permission.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { AGENT_RULES } from '../../src/kube/permissions.js';
import { podNetns } from '../../src/lab/plan.js';
import { listensOnTcp } from '../../src/process/daemons.js';
import type { LabStatus } from '../../src/lab/status.js';
import { applyObject } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import { PODNET, podnet, podnetOk, readLab, until } from '../helpers/lab.js';
import { sharedLab } from '../helpers/shared-lab.js';
import { agentMetric } from '../helpers/agent-metrics.js';

const lab = sharedLab(['--nodes', '2', '--zones', '2', '--api', 'kubernetes']);
const NODES = ['node-1', 'node-2'];
const SVC_DOMAIN = 'default.svc.cluster.local';

function kubectl(args: string[], input?: string): string {
  const r = spawnSync('kubectl', ['--kubeconfig', readLab(lab)!.apiServer!.kubeconfig, ...args], {
    encoding: 'utf8',
    input,
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

const apply = (objects: object[]): string =>
  kubectl(['apply', '-f', '-'], objects.map((o) => stringify(o)).join('---\n'));

/** Answers of the quick web server: what `podnet serve-echo` would say, as a static file. */
const webRoot = mkdtempSync(join(tmpdir(), 'pnt-kube-lab-web-'));
after(() => rmSync(webRoot, { recursive: true, force: true }));

/**
 * A pod serving who it is over HTTP with busybox httpd, which starts at once: the time to reach
 * it by name is then podnet's (scheduling, CNI, slices, rules, DNS), not a runtime's start-up.
 */
function webPod(name: string, node: string, labels: Record<string, string>) {
  const root = join(webRoot, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'index.html'), JSON.stringify({ pod: name, node }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels },
    spec: {
      nodeName: node,
      containers: [{ name: 'web', command: ['busybox', 'httpd', '-f', '-p', '8080', '-h', root] }],
    },
  };
}

function echoPod(name: string, node: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels },
    spec: {
      nodeName: node,
      containers: [{ name: 'echo', command: ['podnet', 'serve-echo', '--port', '8080'] }],
    },
  };
}

const clientPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'client', namespace: 'default' },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', command: ['sleep', 'infinity'] }] },
};

function podIP(name: string): string | undefined {
  const out = kubectl(['get', 'pod', name, '-o', 'jsonpath={.status.podIP}']).trim();
  return out || undefined;
}

/** Runs a command in the client pod's network namespace (its resolv.conf is the cluster DNS). */
function inClient(argv: string[]): { status: number | null; out: string } {
  const ns = podNetns(lab, 'node-1', 'default', 'client');
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, out: r.stdout };
}

/** Which pod answered one GET of `host` from the client within `seconds`, or undefined. */
function getFrom(host: string, seconds = 1): { pod: string; node: string } | undefined {
  const r = inClient([
    'timeout',
    `${seconds}`,
    'busybox',
    'wget',
    '-q',
    '-O',
    '-',
    `http://${host}/`,
  ]);
  return r.status === 0 ? (JSON.parse(r.out) as { pod: string; node: string }) : undefined;
}

/** The pods that answered `n` GETs of `host`. */
function answering(host: string, n: number): Set<string> {
  const pods = new Set<string>();
  for (let i = 0; i < n; i++) {
    const a = getFrom(host);
    pods.add(a ? a.pod : 'none');
  }
  return pods;
}

/** `node -e SCRIPT` in a pod's namespace: its pid, and what it prints once it exits. */
function inPod(
  ns: string,
  script: string,
  timeoutMs: number,
): { pid: number; output: Promise<string> } {
  let child: ChildProcess | undefined;
  const output = new Promise<string>((resolve, reject) => {
    child = execFile(
      'ip',
      ['netns', 'exec', ns, process.execPath, '-e', script],
      { timeout: timeoutMs },
      (err, out) => (err ? reject(err) : resolve(out)),
    );
  });
  // `ip netns exec` execs the program: the pid is node's, whose namespace /proc shows.
  return { pid: child!.pid!, output };
}

/** Whether the namespace of `pid` holds an established TCP connection on local port `port`. */
function connectedOn(pid: number, port: number): boolean {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return readFileSync(`/proc/${pid}/net/tcp`, 'utf8')
      .split('\n')
      .slice(1)
      .some((line) => {
        const cols = line.trim().split(/\s+/);
        return cols[1]?.endsWith(local) === true && cols[3] === '01';
      });
  } catch {
    return false;
  }
}

/**
 * One TCP connection between two pods kept busy (1 KB every 10 ms) for `seconds`: resolves once
 * the connection is up, with the bytes the receiver got and its longest silence to come.
 */
async function tcpStream(
  from: { ns: string },
  to: { ns: string; ip: string },
  seconds: number,
): Promise<{ result: Promise<{ bytes: number; maxGapMs: number }> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const limit = (seconds + 30) * 1000;
  const receiver = inPod(
    to.ns,
    `let n=0,last=0,gap=0;const s=require('net').createServer(c=>{last=Date.now();c.on('data',d=>{const t=Date.now();gap=Math.max(gap,t-last);last=t;n+=d.length});c.on('end',()=>{console.log(JSON.stringify({bytes:n,maxGapMs:gap}));s.close()})}).listen(${port},'0.0.0.0')`,
    limit,
  );
  await until('the receiver listening', () =>
    listensOnTcp(receiver.pid, `0.0.0.0:${port}`) ? true : undefined,
  );
  const sender = inPod(
    from.ns,
    `const c=require('net').connect(${port},'${to.ip}',()=>{const t=setInterval(()=>c.write(Buffer.alloc(1024,1)),10);setTimeout(()=>{clearInterval(t);c.end()},${seconds * 1000})});c.on('error',e=>{console.error(e.message);process.exit(1)})`,
    limit,
  );
  await until('the connection up', () => (connectedOn(receiver.pid, port) ? true : undefined));
  const result = Promise.all([sender.output, receiver.output]).then(
    ([, out]) => JSON.parse(out) as { bytes: number; maxGapMs: number },
  );
  // Awaited only at the end of the case: a failure meanwhile is not an unhandled rejection.
  result.catch(() => undefined);
  return { result };
}

function status(): LabStatus {
  return JSON.parse(podnetOk(['lab', 'status', '--name', lab, '-o', 'json'])) as LabStatus;
}

/** The revision of `kind` every handler of `node`'s agent has finished with. */
const processed = (node: string, kind: string): number =>
  agentMetric(`${lab}-${node}`, 'podnet_informer_processed_revision', { kind });

/** The revision of the slice of `service` that lists `ip` as ready, once there is one. */
function readySliceRevision(service: string, ip: string): number | undefined {
  const list = JSON.parse(
    kubectl(['get', 'endpointslices', '-l', `kubernetes.io/service-name=${service}`, '-o', 'json']),
  ) as {
    items: {
      metadata: { resourceVersion: string };
      endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
    }[];
  };
  const holding = list.items.find((s) =>
    s.endpoints?.some((e) => e.addresses.includes(ip) && e.conditions?.ready === true),
  );
  return holding ? Number(holding.metadata.resourceVersion) : undefined;
}

/** Waits until every agent has programmed the named slices as they are now. */
async function programmedEverywhere(slices: string[]): Promise<void> {
  const revision = Math.max(
    ...slices.map((name) =>
      Number(kubectl(['get', 'endpointslice', name, '-o', 'jsonpath={.metadata.resourceVersion}'])),
    ),
  );
  await until(
    `every agent to have programmed ${slices.join(', ')}`,
    () => (NODES.every((n) => processed(n, 'EndpointSlice') >= revision) ? true : undefined),
    20_000,
  );
}

/** Every process of the lab (found by its lab name in argv or environment) with its argv. */
function labProcesses(): { pid: number; argv: string[]; env: string[] }[] {
  const found: { pid: number; parent: number; argv: string[]; env: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const ours =
        argv.join(' ').includes(`/labs/${lab}/`) ||
        (argv.includes('kubelet') && argv.includes(lab)) ||
        env.includes(`PODNET_LAB=${lab}`);
      // Node processes only (not the shells that wrap pod commands).
      if (ours && argv[1]?.endsWith('main.js')) {
        found.push({ pid: Number(entry), parent, argv, env });
      }
    } catch {
      // gone meanwhile
    }
  }
  // A child with its parent's very command line is that process between fork and exec, about
  // to become `ip` or `nft` (an agent runs such programs all the time): the same daemon, not a
  // second one.
  const commandLines = new Map(found.map((p) => [p.pid, p.argv.join('\0')]));
  return found
    .filter((p) => commandLines.get(p.parent) !== p.argv.join('\0'))
    .map(({ pid, argv, env }) => ({ pid, argv, env }));
}

function opensFile(pid: number, file: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(file);
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

test('kube-lab: agents, pod runners and DNS read only the API; a kubectl pod and service answer by name as soon as every node has programmed them, from a pod on the other host', async (t) => {
  apply([clientPod]);
  await until('the client pod', () => podIP('client'), 60_000);
  const procs = labProcesses();
  const store = readLab(lab)!.hostStoreUrl.replace(/^sqlite:/, '');
  const kinds = {
    agent: procs.filter((p) => p.argv[2] === 'agent'),
    'pod runner': procs.filter((p) => p.argv[3] === 'kubelet'),
    dns: procs.filter((p) => p.argv[2] === 'dns'),
  };
  for (const [kind, list] of Object.entries(kinds)) {
    assert.equal(list.length, 2, `two ${kind} processes: ${procs.map((p) => p.argv.join(' '))}`);
    for (const p of list) {
      assert.ok(!opensFile(p.pid, store), `${kind} ${p.pid} has the store file open`);
      assert.ok(!p.argv.includes('--store'), `${kind} ${p.pid} was given the store`);
    }
  }
  const nodeOf = (p: { argv: string[] }): string | undefined =>
    p.argv[p.argv.indexOf('--node') + 1];
  assert.deepEqual(kinds.agent.map(nodeOf).sort(), NODES, 'one agent per node');
  for (const p of kinds.agent) {
    assert.ok(p.argv.includes('--kubeconfig'), p.argv.join(' '));
    assert.equal(p.argv[p.argv.indexOf('--api-server') + 1], 'https://172.31.1.254:6443');
  }
  for (const p of kinds.dns) {
    assert.ok(
      p.env.some((e) => /^PODNET_STORE=kubernetes:.*podnet-dns\.kubeconfig/.test(e)),
      'the DNS pod reads the API with its own account',
    );
  }

  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
  };
  kubectl(
    ['create', '-f', '-'],
    [webPod('web-1', 'node-2', { app: 'web' }), service].map((o) => stringify(o)).join('---\n'),
  );
  // From the pod's address on (before it, the runtime starting a process, which a loaded
  // machine delays by seconds), the way to it by name is podnet's: the slice, every node's
  // rules, the name. Waited for as the event it is, every agent's processed revision reaching
  // the slice; then the name must answer, and all of it within 2 s.
  const ip = await until('web-1 running with an address', () => podIP('web-1'), 60_000);
  const start = Date.now();
  const revision = await until('web-1 in a ready slice', () => readySliceRevision('web', ip));
  await until(
    "every agent to have programmed web-1's slice",
    () => (NODES.every((n) => processed(n, 'EndpointSlice') >= revision) ? true : undefined),
    20_000,
  );
  // The pod is Ready once its process runs (no readiness probe), which may be a moment before
  // it listens: a refused first try is the pod's, not the path's, and is tried again, each a
  // new connection given 1 s. (The cluster DNS it looks the name up in serves by now: lab up
  // waits for its pods' readiness probes.)
  let answer: ReturnType<typeof getFrom>;
  do answer = getFrom(`web.${SVC_DOMAIN}`, 1);
  while (!answer && Date.now() - start < 2000);
  const took = Date.now() - start;
  t.diagnostic(`every node programmed and web answering ${took} ms after the address`);
  assert.ok(took < 2000, `web answered by name ${took} ms after its address`);
  assert.deepEqual(answer, { ...answer, pod: 'web-1', node: 'node-2' }, 'web by name');
  const clusterIP = kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}']).trim();
  const lookup = inClient(['busybox', 'nslookup', `web.${SVC_DOMAIN}`]);
  assert.match(lookup.out, new RegExp(`Address:\\s+${clusterIP.replaceAll('.', '\\.')}\\b`));
});

/** A hand-written slice of the selectorless Service `manual`. */
function slice(
  name: string,
  endpoints: { ip: string; ready: boolean; serving: boolean; terminating: boolean }[],
) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: 'default',
      labels: {
        'kubernetes.io/service-name': 'manual',
        'endpointslice.kubernetes.io/managed-by': 'kube-lab-test',
      },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready, serving: e.serving, terminating: e.terminating },
    })),
  };
}

test('kube-lab: a pod with a readiness probe joins its Service once it serves, not once it starts', async () => {
  // It listens 3 s after it starts: Running meanwhile, but neither Ready nor a ready endpoint.
  const pod = webPod('late-1', 'node-2', { app: 'late' });
  const [httpd] = pod.spec.containers;
  pod.spec.containers = [
    {
      ...httpd!,
      command: ['sh', '-c', `sleep 3; exec ${httpd!.command.join(' ')}`],
      readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
    } as typeof httpd,
  ];
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'late', namespace: 'default' },
    spec: { selector: { app: 'late' }, ports: [{ port: 80, targetPort: 8080 }] },
  };
  apply([pod, service]);
  const ip = await until('late-1 running with an address', () => podIP('late-1'), 60_000);
  const ready = (): string =>
    kubectl([
      'get',
      'pod',
      'late-1',
      '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
    ]);
  assert.equal(ready(), 'False', 'Ready before its probe passed');
  assert.equal(readySliceRevision('late', ip), undefined, 'a ready endpoint before it serves');
  await until('late-1 a ready endpoint of late', () => readySliceRevision('late', ip), 20_000);
  assert.equal(ready(), 'True');
  assert.deepEqual(getFrom(`late.${SVC_DOMAIN}`, 2), { pod: 'late-1', node: 'node-2' });
});

test('kube-lab: a selectorless Service over two hand-written slices; not-ready and terminating endpoints', async () => {
  apply([
    echoPod('echo-a', 'node-1'),
    echoPod('echo-b', 'node-2'),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'manual', namespace: 'default' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
  ]);
  const a = await until('echo-a', () => podIP('echo-a'), 60_000);
  const b = await until('echo-b', () => podIP('echo-b'), 60_000);
  const up = { ready: true, serving: true, terminating: false };
  apply([slice('manual-a', [{ ip: a, ...up }]), slice('manual-b', [{ ip: b, ...up }])]);
  const host = `manual.${SVC_DOMAIN}`;
  const both = (pods: Set<string>) => (pods.has('echo-a') && pods.has('echo-b') ? pods : undefined);
  await until('both slices answering', () => both(answering(host, 12)), 20_000);

  // echo-b not ready (still serving, not terminating): new connections go to echo-a only.
  apply([slice('manual-b', [{ ip: b, ready: false, serving: true, terminating: false }])]);
  await programmedEverywhere(['manual-b']);
  const onlyA = (pods: Set<string>) => (pods.size === 1 && pods.has('echo-a') ? pods : undefined);
  await until('only echo-a answering', () => onlyA(answering(host, 3)), 20_000);
  assert.deepEqual([...answering(host, 12)], ['echo-a']);

  // Every endpoint terminating: the serving ones (echo-b) still answer, echo-a (not serving) not.
  apply([
    slice('manual-a', [{ ip: a, ready: false, serving: false, terminating: true }]),
    slice('manual-b', [{ ip: b, ready: false, serving: true, terminating: true }]),
  ]);
  await programmedEverywhere(['manual-a', 'manual-b']);
  const onlyB = (pods: Set<string>) => (pods.size === 1 && pods.has('echo-b') ? pods : undefined);
  await until(
    'the serving-terminating endpoint answering',
    () => onlyB(answering(host, 3)),
    20_000,
  );
  assert.deepEqual([...answering(host, 12)], ['echo-b']);
});

test('kube-lab: the API server stopped for 60 s leaves traffic alone; later changes reach every agent within 30 s', async () => {
  const server = { ns: podNetns(lab, 'node-2', 'default', 'web-1'), ip: podIP('web-1')! };
  const client = { ns: podNetns(lab, 'node-1', 'default', 'client'), ip: podIP('client')! };
  const apiserver = status().processes.find((p) => p.id === 'apiserver')!;
  const stream = await tcpStream(client, server, 66);
  process.kill(apiserver.pid, 'SIGSTOP');
  try {
    await new Promise((r) => setTimeout(r, 30_000));
    // New connections by name still work: DNS answers and service rules stay in place.
    assert.equal(getFrom(`web.${SVC_DOMAIN}`)?.pod, 'web-1', 'by name while stopped');
    await new Promise((r) => setTimeout(r, 30_000));
  } finally {
    process.kill(apiserver.pid, 'SIGCONT');
  }
  const resumed = Date.now();
  apply([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'after-stop', namespace: 'default' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ]);
  const revision = Number(
    kubectl(['get', 'service', 'after-stop', '-o', 'jsonpath={.metadata.resourceVersion}']),
  );
  await until(
    'every agent to have the new service',
    () => (NODES.every((n) => processed(n, 'Service') >= revision) ? true : undefined),
    30_000,
  );
  const took = Date.now() - resumed;
  assert.ok(took < 30_000, `changes reached every agent ${took} ms after the resume`);
  await until('after-stop by name', () => getFrom(`after-stop.${SVC_DOMAIN}`), 10_000);
  const { bytes, maxGapMs } = await stream.result;
  assert.ok(bytes > 1_000_000, `the connection carried ${bytes} bytes`);
  assert.ok(maxGapMs < 1000, `the connection stalled for ${maxGapMs} ms`);
});

test('kube-lab: watches told 410 Gone re-list and count it', async () => {
  const expired = (n: string): number =>
    agentMetric(`${lab}-${n}`, 'podnet_kube_relists_total', { reason: 'expired' });
  const before = NODES.map(expired);
  // While the API server is paused (briefly: no watch counts as stalled yet), the store moves
  // on and its history is compacted behind the server's own watches: they resume to 410 Gone.
  const apiserver = status().processes.find((p) => p.id === 'apiserver')!;
  const store = await openStore(readLab(lab)!.storeUrl);
  process.kill(apiserver.pid, 'SIGSTOP');
  try {
    // Two revisions, and everything before the second removed: the server's watches wait
    // at the first.
    for (const name of ['compacted-behind-1', 'compacted-behind-2']) {
      await applyObject(store, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
    const { revision } = await store.list('/podnet/namespaces/');
    await store.compact(revision);
  } finally {
    process.kill(apiserver.pid, 'SIGCONT');
    await store.close();
  }
  await until(
    'a re-list after 410 on every agent',
    () => (NODES.every((n, i) => expired(n) > before[i]!) ? true : undefined),
    40_000,
  );
  // And they carry on: a change after it still reaches them.
  apply([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'after-410', namespace: 'default' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ]);
  await until('after-410 by name', () => getFrom(`after-410.${SVC_DOMAIN}`), 20_000);
});

test('kube-lab: an agent whose token lacks a permission says which verb on which resource was refused', () => {
  const weakRules = AGENT_RULES.map((r) =>
    r.apiGroups?.includes('podnet.io') ? { ...r, verbs: r.verbs.filter((v) => v !== 'get') } : r,
  );
  apply([
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'weak-agent', namespace: 'kube-system' },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'weak-agent' },
      rules: weakRules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'weak-agent' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'weak-agent' },
      subjects: [{ kind: 'ServiceAccount', name: 'weak-agent', namespace: 'kube-system' }],
    },
  ]);
  const token = kubectl(['create', 'token', 'weak-agent', '-n', 'kube-system']).trim();
  const dir = mkdtempSync(join(tmpdir(), 'pnt-kube-lab-'));
  try {
    const ca = readFileSync(join(readLab(lab)!.stateDir, 'apiserver', 'ca.crt'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'lab',
            cluster: {
              server: 'https://172.31.1.254:6443',
              'certificate-authority-data': ca.toString('base64'),
            },
          },
        ],
        users: [{ name: 'weak', user: { token } }],
        contexts: [{ name: 'weak', context: { cluster: 'lab', user: 'weak' } }],
        'current-context': 'weak',
      }),
    );
    // Refused at its first request, before it touches anything in the host's namespace.
    const r = spawnSync(
      'ip',
      [
        ...['netns', 'exec', `${lab}-node-1`, PODNET, 'agent', '--node', 'node-9'],
        ...['--state-dir', dir, '--socket', join(dir, 'agent.sock'), '--metrics', '127.0.0.1:9199'],
        ...['--kubeconfig', kubeconfig, '--api-server', 'https://172.31.1.254:6443'],
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /refused to get clusternetworks/);
    assert.match(r.stderr, /403 Forbidden/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(podnet(['lab', 'status', '--name', lab]).status === 0, 'the lab is untouched');
});
