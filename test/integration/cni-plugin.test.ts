// The CNI plugin end to end: the real C shim called as a runtime calls it, a real agent in a
// namespace standing in for the host, real pod namespaces, a temp sqlite store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from '../../src/api/types.js';
import { createObject, getObject } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import {
  addNamespaces,
  callPlugin,
  cniEnv,
  deleteNamespaces,
  startAgentNode,
  waitFor,
  type AgentNode,
  type PluginAnswer,
} from '../helpers/cni-node.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../helpers/names.js';
import { agentMetricsText } from '../helpers/agent-metrics.js';

let dir: string;
let store: Store;
let hostNs: string;
let node: AgentNode;
const podNamespaces: string[] = [];

function newPods(count: number): string[] {
  const names = Array.from({ length: count }, (_, i) => uniqueName(`p${i}`));
  addNamespaces(names);
  podNamespaces.push(...names);
  return names;
}

const netnsPath = (name: string): string => `/run/netns/${name}`;
const ipOf = (r: { json?: Record<string, unknown> }): string =>
  ((r.json?.ips as { address: string }[])[0]!.address ?? '').split('/')[0]!;

/** A call for pod namespace `pod` that must succeed; `args` is CNI_ARGS (the pod's name). */
async function succeeds(
  command: 'ADD' | 'DEL',
  containerID: string,
  pod: string,
  args?: string,
): Promise<PluginAnswer> {
  const r = await node.call({ command, containerID, netns: netnsPath(pod), args });
  assert.equal(r.code, 0, r.stdout);
  return r;
}

before(async () => {
  sweepStaleNamespaces();
  dir = mkdtempSync(join(tmpdir(), 'podnet-cni-test-'));
  const storeUrl = `sqlite:${join(dir, 'store.db')}`;
  store = await openStore(storeUrl);
  hostNs = uniqueName('host');
  execFileSync('ip', ['netns', 'add', hostNs]);
  node = await startAgentNode({
    name: 'node-1',
    netns: hostNs,
    storeUrl,
    nodeIP: '172.31.1.1',
    stateDir: join(dir, 'node-1'),
    zone: 'z1',
  });
});

after(async () => {
  await node?.stop('SIGKILL');
  deleteNamespaces(podNamespaces);
  deleteNamespace(hostNs);
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('cni: 200 concurrent ADDs get 200 distinct addresses; 200 DELs make the pool whole', async () => {
  const pods = newPods(200);
  const adds = await Promise.all(
    pods.map((p, i) =>
      node.call({ command: 'ADD', containerID: `c200-${i}`, netns: netnsPath(p) }),
    ),
  );
  for (const r of adds) assert.equal(r.code, 0, r.stdout);
  const ips = adds.map(ipOf);
  assert.equal(new Set(ips).size, 200);
  assert.equal(node.allocations().length, 200);
  assert.equal(node.podLinks().length, 200);
  // Every pod is wired: it reaches its gateway (the host side) and the host reaches it.
  const sample = adds[17]!.json!;
  const gw = (sample.ips as { gateway: string }[])[0]!.gateway;
  execFileSync('ip', ['netns', 'exec', pods[17]!, 'busybox', 'ping', '-c1', '-W2', gw]);
  execFileSync('ip', ['netns', 'exec', hostNs, 'busybox', 'ping', '-c1', '-W2', ips[17]!]);

  const dels = await Promise.all(
    pods.map((p, i) =>
      node.call({ command: 'DEL', containerID: `c200-${i}`, netns: netnsPath(p) }),
    ),
  );
  for (const r of dels) assert.equal(r.code, 0, r.stdout);
  assert.deepEqual(node.allocations(), []);
  assert.deepEqual(node.podLinks(), []);
});

test('cni: the result carries mac, sandbox, ips, routes and the pod DNS settings', async () => {
  const [p] = newPods(1);
  const r = await succeeds(
    'ADD',
    'result-1',
    p!,
    'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0',
  );
  const res = r.json as {
    cniVersion: string;
    interfaces: { name: string; mac: string; sandbox?: string }[];
    ips: { address: string; gateway: string; interface: number }[];
    routes: { dst: string; gw: string }[];
    dns: { nameservers: string[]; search: string[]; options: string[] };
  };
  assert.equal(res.cniVersion, '1.0.0');
  assert.match(res.interfaces[0]!.name, /^pn[0-9a-f]{11}$/);
  assert.equal(res.interfaces[1]!.sandbox, netnsPath(p!));
  for (const i of res.interfaces) assert.match(i.mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.match(res.ips[0]!.address, /^10\.244\.\d+\.\d+\/32$/);
  assert.equal(res.ips[0]!.interface, 1);
  assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: res.ips[0]!.gateway }]);
  assert.deepEqual(res.dns.nameservers, ['10.96.0.10']);
  assert.deepEqual(res.dns.search, [
    'shop.svc.cluster.local',
    'svc.cluster.local',
    'cluster.local',
  ]);
  assert.deepEqual(res.dns.options, ['ndots:5']);
  // The kernel agrees with the result: the pod's MAC and the host route marked proto 80.
  const link = JSON.parse(
    execFileSync('ip', ['-n', p!, '-j', 'link', 'show', 'dev', 'eth0'], { encoding: 'utf8' }),
  ) as { address: string; mtu: number }[];
  assert.equal(link[0]!.address, res.interfaces[1]!.mac);
  const hostRoute = execFileSync('ip', ['-n', hostNs, 'route', 'show', 'proto', '80'], {
    encoding: 'utf8',
  });
  assert.match(hostRoute, new RegExp(`${ipOf(r)} dev ${res.interfaces[0]!.name}`));
  // The agent's metrics count the address and time the call.
  const metrics = agentMetricsText(hostNs);
  assert.match(metrics, /^podnet_ipam_pod_addresses\{state="allocated"\} 1$/m);
  assert.match(metrics, /^podnet_ipam_pod_addresses\{state="capacity"\} 253$/m);
  assert.match(
    metrics,
    /^podnet_cni_call_duration_seconds_count\{command="ADD",outcome="ok"\} \d+$/m,
  );
  // ...and say when each stage of that ADD ended.
  for (const stage of ['allocate', 'wire', 'record', 'guard', 'policy']) {
    assert.match(
      metrics,
      new RegExp(`^podnet_cni_add_stage_seconds_count\\{stage="${stage}"\\} [1-9]\\d*$`, 'm'),
    );
  }
  await succeeds('DEL', 'result-1', p!);
});

test('cni: the agent socket is root-only; metrics and health listen on loopback only', () => {
  const socket = statSync(node.socket);
  assert.ok(socket.isSocket());
  assert.equal(socket.mode & 0o777, 0o600);
  assert.equal(socket.uid, 0);
  // Someone else (nobody) at the socket itself: the test's directory opened for the moment,
  // so that only the socket's own mode stands in the way.
  const probe = `require('node:net').connect(${JSON.stringify(node.socket)})
    .on('connect', () => { console.log('connected'); process.exit(0); })
    .on('error', (e) => { console.log(e.code); process.exit(0); });`;
  chmodSync(dir, 0o711);
  let asNobody: string;
  try {
    asNobody = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe],
      { encoding: 'utf8' },
    ).trim();
  } finally {
    chmodSync(dir, 0o700);
  }
  assert.equal(asNobody, 'EACCES');
  // Every TCP listener in the host namespace (the agent's only) is on loopback.
  const listeners = execFileSync('ip', ['netns', 'exec', hostNs, 'ss', '-Hltn'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[3]!);
  assert.ok(listeners.includes('127.0.0.1:9101'), listeners.join(' '));
  for (const local of listeners) assert.match(local, /^127\.0\.0\.1:\d+$/, local);
});

test('cni: DEL twice, DEL of an unknown container and DEL after the netns is gone succeed', async () => {
  const [p, q] = newPods(2);
  await succeeds('ADD', 'del-1', p!);
  for (let i = 0; i < 2; i++) {
    const r = await node.call({ command: 'DEL', containerID: 'del-1', netns: netnsPath(p!) });
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout, '');
  }
  const unknown = await node.call({
    command: 'DEL',
    containerID: 'never-added',
    netns: netnsPath(p!),
  });
  assert.equal(unknown.code, 0, unknown.stdout);

  await succeeds('ADD', 'del-2', q!);
  deleteNamespace(q!);
  await succeeds('DEL', 'del-2', q!);
  const noNetns = await node.call({ command: 'DEL', containerID: 'del-2', netns: '' });
  assert.equal(noNetns.code, 0, noNetns.stdout);
  assert.deepEqual(node.allocations(), []);
  assert.deepEqual(node.podLinks(), []);
});

test('cni: CHECK passes on an intact pod and names a removed route', async () => {
  const [p] = newPods(1);
  const add = await succeeds('ADD', 'check-1', p!);
  const prevResult = add.json;
  const check = () =>
    node.call({ command: 'CHECK', containerID: 'check-1', netns: netnsPath(p!) }, { prevResult });
  assert.equal((await check()).code, 0);

  execFileSync('ip', ['-n', p!, 'route', 'del', 'default']);
  const broken = await check();
  assert.equal(broken.code, 1);
  assert.equal(broken.json?.code, 102);
  assert.match(String(broken.json?.msg), /default route via 10\.244\.\d+\.1 is missing/);

  execFileSync('ip', ['-n', hostNs, 'route', 'del', `${ipOf(add)}/32`]);
  assert.match(String((await check()).json?.msg), /host route .* proto 80 is missing/);
  await succeeds('DEL', 'check-1', p!);
});

test('cni: ADD on an interface name that exists in the pod fails and allocates nothing', async () => {
  const [p] = newPods(1);
  execFileSync('ip', ['-n', p!, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other0']);
  const r = await node.call({ command: 'ADD', containerID: 'exists-1', netns: netnsPath(p!) });
  assert.equal(r.code, 1);
  assert.equal(r.json?.code, 100);
  assert.match(String(r.json?.msg), /interface eth0 already exists/);
  assert.deepEqual(node.allocations(), []);
  assert.deepEqual(node.podLinks(), []);
});

test('cni: bad input is CNI error JSON with the spec code, and nothing is allocated', async () => {
  const [p] = newPods(1);
  const env = cniEnv({ command: 'ADD', containerID: 'bad-1', netns: netnsPath(p!) });
  const notNetns = join(dir, 'not-a-netns');
  writeFileSync(notNetns, '');
  const cases: { why: string; env: Record<string, string>; stdin: string; code: number }[] = [
    {
      why: 'malformed stdin',
      env,
      stdin: `{"cniVersion":"1.0.0","agentSocket":"${node.socket}",`,
      code: 6,
    },
    { why: 'unknown cniVersion', env, stdin: node.conf({ cniVersion: '0.2.0' }), code: 1 },
    {
      why: 'missing CNI_CONTAINERID',
      env: { ...env, CNI_CONTAINERID: '' },
      stdin: node.conf(),
      code: 4,
    },
    { why: 'missing CNI_IFNAME', env: { ...env, CNI_IFNAME: '' }, stdin: node.conf(), code: 4 },
    {
      why: 'netns that is not one',
      env: { ...env, CNI_NETNS: notNetns },
      stdin: node.conf(),
      code: 4,
    },
    {
      why: 'netns that does not exist',
      env: { ...env, CNI_NETNS: '/run/netns/pnt-none' },
      stdin: node.conf(),
      code: 4,
    },
    { why: 'config for another plugin', env, stdin: node.conf({ type: 'bridge' }), code: 7 },
  ];
  for (const c of cases) {
    const r = await callPlugin(c.env, c.stdin);
    assert.equal(r.code, 1, c.why);
    assert.equal(r.json?.code, c.code, `${c.why}: ${r.stdout}`);
    assert.equal(typeof r.json?.msg, 'string', c.why);
    assert.ok(r.json?.cniVersion, c.why);
  }
  assert.deepEqual(node.allocations(), []);
  assert.deepEqual(node.podLinks(), []);
  // An agent that is not there is error 11, "try again later".
  const away = await callPlugin(env, node.conf({ agentSocket: join(dir, 'nobody.sock') }));
  assert.equal(away.code, 1);
  assert.equal(away.json?.code, 11);
  // VERSION is answered by the binary itself.
  const version = await callPlugin({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
  assert.deepEqual(version.json?.supportedVersions, ['0.4.0', '1.0.0', '1.1.0']);
});

test('cni: the address is bound to the Pod; a bare container gets a Pod in default', async () => {
  const [p, q] = newPods(2);
  const existing: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'shop' },
    spec: { containers: [{ name: 'web' }] },
  };
  await createObject(store, existing);
  const a = await succeeds(
    'ADD',
    'bind-1',
    p!,
    'IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1',
  );
  const bound = await getObject(store, 'Pod', 'shop', 'web-1');
  assert.equal(bound?.status?.podIP, ipOf(a));
  assert.deepEqual(bound?.status?.podIPs, [{ ip: ipOf(a) }]);
  assert.equal(bound?.status?.hostIP, '172.31.1.1');

  // podman passes only K8S_POD_NAME.
  const b = await succeeds('ADD', 'bind-2', q!, 'IgnoreUnknown=1;K8S_POD_NAME=bare-box');
  const created = await getObject(store, 'Pod', 'default', 'bare-box');
  assert.equal(created?.status?.podIP, ipOf(b));
  assert.equal(created?.spec.nodeName, 'node-1');

  await succeeds('DEL', 'bind-1', p!, 'K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-1');
  assert.equal((await getObject(store, 'Pod', 'shop', 'web-1'))?.status?.podIP, undefined);
  await succeeds('DEL', 'bind-2', q!);
  assert.equal(await getObject(store, 'Pod', 'default', 'bare-box'), undefined);
});

test('cni: an agent killed during ADDs leaves nothing that GC does not reclaim', async () => {
  // Enough ADDs that some are still in flight when the kill lands: an ADD starts no process
  // and takes a few milliseconds, so the kill follows the first allocation within one.
  const pods = newPods(120);
  const calls = pods.map((p, i) =>
    node.call({ command: 'ADD', containerID: `kill-${i}`, netns: netnsPath(p) }),
  );
  // Kill as soon as the first addresses are on disk, while the rest are in flight.
  await waitFor('the first allocations', 20_000, () => node.allocations().length > 0, 1);
  await node.stop('SIGKILL');
  const answers = await Promise.all(calls);
  // Calls the agent never answered fail with "try again later".
  assert.ok(
    answers.some((a) => a.code !== 0),
    'the kill came after every ADD had finished',
  );
  for (const r of answers.filter((a) => a.code !== 0)) assert.equal(r.json?.code, 11, r.stdout);
  await node.restart();
  const done = answers.flatMap((r, i) =>
    r.code === 0 ? [{ containerID: `kill-${i}`, ifname: 'eth0' }] : [],
  );
  const gc = await node.call(
    { command: 'GC' },
    { cniVersion: '1.1.0', 'cni.dev/valid-attachments': done },
  );
  assert.equal(gc.code, 0, gc.stdout);
  assert.equal(node.allocations().length, done.length);
  assert.equal(node.podLinks().length, done.length);
  // The runtime then deletes what it knows about; nothing is left.
  for (const a of done) {
    assert.equal(
      (await node.call({ command: 'DEL', containerID: a.containerID, netns: '' })).code,
      0,
    );
  }
  assert.deepEqual(node.allocations(), []);
  assert.deepEqual(node.podLinks(), []);
});

test('cni: a pod whose netns vanished without a DEL is reclaimed when the agent starts', async () => {
  const [p] = newPods(1);
  await succeeds('ADD', 'orphan-1', p!);
  deleteNamespace(p!); // the runtime crashed: no DEL will come
  await node.stop('SIGTERM');
  await node.restart();
  await waitFor('the orphan to be freed', 10_000, () => node.allocations().length === 0);
  assert.deepEqual(node.podLinks(), []);
  // A late DEL from the runtime is still harmless.
  await succeeds('DEL', 'orphan-1', p!);
});
