// The routing controller inside real `podnet agent` processes, one per host namespace, over a
// temporary sqlite store that this test writes Nodes and the ClusterNetwork into.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLUSTER_NETWORK, type ClusterNetwork, type Node } from '../../src/api/types.js';
import {
  applyObject,
  createObject,
  deleteObject,
  getObject,
  listObjects,
} from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  buildTopology,
  eventually,
  podnetRoutes,
  sh,
  shAsync,
  tcpStream,
  unreachablePairs,
  watchKernel,
  type TestHost,
  type Topology,
} from '../helpers/routing-topology.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');

let topo: Topology;
let dir: string;
let store: Store;
let storeUrl: string;
const agents = new Map<string, { proc: ChildProcess; log: string[] }>();

function clusterNetwork(backend: string): ClusterNetwork {
  return {
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: { ...DEFAULT_CLUSTER_NETWORK, backend: backend as ClusterNetwork['spec']['backend'] },
  };
}

function nodeOf(h: TestHost): Node {
  const node = topo.nodes().find((n) => n.metadata.name === h.name)!;
  node.metadata.annotations = {}; // the agent publishes its own VTEP MAC
  return node;
}

/** `podnet agent` for host `h` in its namespace; `instance` names its state dir and socket. */
function spawnAgent(h: TestHost, instance: string, metrics: string, extra: string[]): ChildProcess {
  return spawn(
    'ip',
    [
      'netns',
      'exec',
      h.ns,
      'node',
      CLI,
      '--store',
      storeUrl,
      'agent',
      '--node',
      h.name,
      '--state-dir',
      join(dir, instance),
      '--socket',
      join(dir, `${instance}.sock`),
      '--metrics',
      metrics,
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

function startAgent(h: TestHost, extra: string[] = []): { proc: ChildProcess; log: string[] } {
  const log: string[] = [];
  const proc = spawnAgent(h, h.name, '127.0.0.1:9101', [
    '--zone',
    `zone-${h.zone}`,
    '--node-ip',
    h.ip,
    ...extra,
  ]);
  proc.stderr!.on('data', (b: Buffer) => log.push(...b.toString().split('\n').filter(Boolean)));
  const agent = { proc, log };
  agents.set(h.name, agent);
  return agent;
}

function exited(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((r) => proc.once('exit', (code) => r(code)));
}

async function vtepMac(name: string): Promise<string | undefined> {
  return (await getObject(store, 'Node', undefined, name))?.metadata.annotations?.[
    'podnet.io/vtep-mac'
  ];
}

/** The Node revision every handler of `h`'s agent has finished with (its metric). */
async function processedNodes(h: TestHost): Promise<number> {
  const metrics = await shAsync(
    `ip netns exec ${h.ns} node -e "fetch('http://127.0.0.1:9101/metrics').then(r=>r.text()).then(console.log)"`,
  );
  const m = /podnet_informer_processed_revision\{kind="Node"\} (\d+)/.exec(metrics);
  return m ? Number(m[1]) : 0;
}

before(async () => {
  sweepStaleNamespaces();
  topo = buildTopology([1, 1, 2], { podMTU: 1450 });
  dir = mkdtempSync(join(tmpdir(), 'pnt-routing-'));
  storeUrl = `sqlite:${join(dir, 'store.db')}`;
  store = await openStore(storeUrl);
  await applyObject(store, clusterNetwork('auto'));
  for (const h of topo.hosts) await createObject(store, nodeOf(h));
  for (const h of topo.hosts) startAgent(h);
});

after(async () => {
  for (const a of agents.values()) a.proc.kill('SIGKILL');
  await store?.close();
  topo?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('routing agent: agents publish VTEP MACs and every pod reaches every other pod', async () => {
  assert.ok(
    await eventually(
      async () => (await Promise.all(topo.hosts.map((h) => vtepMac(h.name)))).every(Boolean),
      20_000,
    ),
    'every node published its VTEP MAC',
  );
  assert.ok(
    await eventually(async () => (await unreachablePairs(topo.hosts)).length === 0, 20_000),
    'all pods reach each other',
  );
  const node = await getObject(store, 'Node', undefined, 'node-1');
  const cond = node?.status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
  assert.equal(cond?.status, 'False');
});

test('routing agent: SIGKILL loses no ping; the restarted agent makes zero kernel changes and keeps its VTEP MAC', async () => {
  const h1 = topo.hosts[0]!;
  const macBefore = await vtepMac(h1.name);
  const ping = shAsync(
    `ip netns exec ${h1.pods[0]!.ns} ping -c 60 -i 0.05 -W 1 ${topo.hosts[2]!.pods[0]!.ip}`,
  );
  await new Promise((r) => setTimeout(r, 500));
  agents.get(h1.name)!.proc.kill('SIGKILL');
  await exited(agents.get(h1.name)!.proc);
  const out = await ping;
  assert.match(out, / 0% packet loss/);

  const watch = watchKernel(h1.ns);
  const agent = startAgent(h1);
  assert.ok(await eventually(() => agent.log.some((l) => l.includes('agent started')), 20_000));
  // Wait for the first reconcile (readiness), then until the agent has finished with every
  // Node change it was told of (the reconciles they asked for included): nothing is late.
  assert.ok(
    await eventually(
      async () =>
        (
          await shAsync(
            `ip netns exec ${h1.ns} node -e "fetch('http://127.0.0.1:9101/readyz').then(r=>console.log(r.status))"`,
          )
        ).trim() === '200',
      20_000,
    ),
  );
  const latest = Math.max(
    ...(await listObjects(store, 'Node')).items.map((n) => Number(n.metadata.resourceVersion)),
  );
  assert.ok(
    await eventually(async () => (await processedNodes(h1)) >= latest, 20_000),
    `the agent processed every Node change up to revision ${latest}`,
  );
  const events = await watch.stop();
  assert.deepEqual(events, [], 'no kernel change after restart');
  assert.ok(
    !agent.log.some((l) => l.includes('routing reconciled')),
    'the agent reports no change',
  );
  assert.equal(await vtepMac(h1.name), macBefore);
});

test('routing agent: applying a changed ClusterNetwork moves every host without stalling TCP for 1 s', async (t) => {
  const [h1, h2] = topo.hosts as [TestHost, TestHost];
  const stream = tcpStream(h1.pods[0]!, h2.pods[0]!, 7);
  // Busy for a moment on each backend, then switched: the route to node-2 shows the switch.
  const switchTo = async (backend: string, route: string, what: string): Promise<void> => {
    await new Promise((r) => setTimeout(r, 1500));
    await applyObject(store, clusterNetwork(backend));
    assert.ok(await eventually(() => podnetRoutes(h1.ns).includes(route), 10_000), what);
  };
  await switchTo(
    'vxlan',
    '10.244.2.0/24 via 10.244.2.0 dev pn-vxlan',
    'node-1 reaches node-2 through VXLAN',
  );
  await switchTo(
    'auto',
    '10.244.2.0/24 via 172.31.1.12 dev eth0',
    'node-1 reaches node-2 directly again',
  );
  const { bytes, maxGapMs } = await stream;
  t.diagnostic(
    `auto → vxlan → auto through the store: ${bytes} bytes, longest stall ${maxGapMs} ms`,
  );
  assert.ok(bytes > 300 * 1024, `the connection kept carrying data (${bytes} bytes)`);
  assert.ok(maxGapMs < 1000, `longest stall ${maxGapMs} ms`);
});

test('routing agent: a deleted Node leaves every host; created again, it is programmed everywhere', async () => {
  const gone = topo.hosts[2]!;
  const node = await getObject(store, 'Node', undefined, gone.name);
  assert.ok(await deleteObject(store, 'Node', undefined, gone.name));
  const clean = (h: TestHost): boolean =>
    !podnetRoutes(h.ns).some((r) => r.startsWith('10.244.3.0/24')) &&
    !/10\.244\.3\.0/.test(sh(`ip -n ${h.ns} neigh show dev pn-vxlan`)) &&
    !/dst 172\.31\.2\.13/.test(sh(`bridge -n ${h.ns} fdb show dev pn-vxlan`));
  for (const h of topo.hosts.slice(0, 2))
    assert.ok(await eventually(() => clean(h), 10_000), `${h.name} forgot node-3`);
  delete node!.metadata.resourceVersion;
  await createObject(store, node!);
  for (const h of topo.hosts.slice(0, 2)) {
    assert.ok(
      await eventually(
        () => podnetRoutes(h.ns).includes('10.244.3.0/24 via 10.244.3.0 dev pn-vxlan'),
        10_000,
      ),
      `${h.name} routes to node-3 again`,
    );
  }
  assert.ok(
    await eventually(async () => (await unreachablePairs(topo.hosts)).length === 0, 10_000),
  );
});

test('routing agent: host-gw across zones sets NetworkUnavailable naming the peers not on-link', async () => {
  await applyObject(store, clusterNetwork('host-gw'));
  try {
    const condition = async (): Promise<string | undefined> =>
      (await getObject(store, 'Node', undefined, 'node-1'))?.status?.conditions?.find(
        (c) => c.type === 'NetworkUnavailable',
      )?.message;
    assert.ok(
      await eventually(
        async () =>
          (await condition())?.startsWith('cannot route to node-3 (172.31.2.13 is not on-link') ??
          false,
        10_000,
      ),
      `node-1's condition names node-3: ${await condition()}`,
    );
    const log = agents.get('node-1')!.log.join('\n');
    assert.match(log, /peer node-3 cannot be routed to: 172\.31\.2\.13 is not on-link/);
  } finally {
    await applyObject(store, clusterNetwork('auto'));
    // The next test starts from a settled cluster: every host back on auto.
    assert.ok(
      await eventually(async () => (await unreachablePairs(topo.hosts)).length === 0, 10_000),
    );
  }
});

test('routing agent: podnet plan prints the ip commands the agent would run and changes nothing', async () => {
  const h1 = topo.hosts[0]!;
  const plan = async (...extra: string[]): Promise<string> =>
    shAsync(
      `ip netns exec ${h1.ns} node ${CLI} --store ${storeUrl} plan --node ${h1.name} ${extra.join(' ')}`,
    );
  // The device features the agent keeps are reported beside the routes.
  const offloads = /^# offloads in place: .*\n/m;
  const settled = await plan();
  assert.match(settled, /^# offloads in place: generic-receive-offload on \d+ link\(s\)/m);
  assert.match(settled.replace(offloads, ''), /^# node-1, backend auto: nothing to change\n$/);
  // With the agent gone, a route deleted by hand stays deleted: plan shows it, and only shows it.
  const agent = agents.get(h1.name)!;
  agent.proc.kill('SIGKILL');
  await exited(agent.proc);
  sh(`ip -n ${h1.ns} route del 10.244.3.0/24`);
  const before = sh(`ip -n ${h1.ns} route show`);
  assert.equal(
    (await plan()).replace(offloads, ''),
    '# node-1, backend auto: 1 command(s)\nip route add 10.244.3.0/24 via 10.244.3.0 dev pn-vxlan onlink proto 80\n',
  );
  const json = JSON.parse(await plan('-o', 'json')) as { commands: string[]; backend: string };
  assert.deepEqual(json.commands, [
    'ip route add 10.244.3.0/24 via 10.244.3.0 dev pn-vxlan onlink proto 80',
  ]);
  assert.match(
    await plan('--backend', 'host-gw'),
    /cannot route to node-3: 172\.31\.2\.13 is not on-link/,
  );
  assert.equal(sh(`ip -n ${h1.ns} route show`), before, 'plan changed nothing');
  // The restarted agent puts it back.
  startAgent(h1);
  assert.ok(
    await eventually(() => podnetRoutes(h1.ns).some((r) => r.startsWith('10.244.3.0/24')), 20_000),
  );
});
