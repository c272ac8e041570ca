// How long the cloud route controller takes from empty route tables to every node's route in
// place, for 50 and 500 Node objects, against the lab's EC2 (moto behind the lab's guard and
// its AWS token buckets; route limit 1,000). Anchor: the floor those buckets allow — 50 route
// calls at once, then 5 a second (about 90 s for 500). Beside it, the same cluster on the
// store-driven host-gw backend: the same routes written into one host's kernel. Then one
// node joining in steady state: one CreateRoute and no DescribeRouteTables (no full scan).
// Goal: <= 1.1x the floor for 500 nodes.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import {
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { Registry } from 'prom-client';
import { cloudRouteController } from '../src/agent/cloud-routes.js';
import { HealthState, type AgentContext } from '../src/agent/controller.js';
import {
  ANNOTATION_CLOUD_INTERFACE,
  ANNOTATION_CLOUD_ROUTE,
  type ClusterNetwork,
  type Node,
} from '../src/api/types.js';
import { AWS_BUCKETS } from '../src/cloud/pacing.js';
import { addToIP, formatCidr, formatIP, nthSubnet, parseCidr, parseIP } from '../src/net/index.js';
import { routingKernel } from '../src/kernel/routing-kernel.js';
import { startGuard, type GuardStats } from '../src/lab/cloud-guard.js';
import { motoClient, readRoutes } from '../src/lab/cloud-moto.js';
import { reconcileHost } from '../src/routing/reconcile.js';
import { applyObject, listObjects } from '../src/store/objects.js';
import { InformerCache } from '../src/store/shared-informers.js';
import type { Store } from '../src/store/store.js';
import { createLogger } from '../src/util/log.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { makeNode } from '../test/helpers/routing-nodes.js';
import { withTempStore } from '../test/helpers/temp-store.js';

const SIZES = [50, 500];
const ROUTE_LIMIT = 1000;
const ENIS = 4;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` every `everyMs` until it holds, or fails naming `what`. */
async function within(
  what: string,
  ms: number,
  check: () => Promise<boolean>,
  everyMs = 50,
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The cluster CIDR the nodes' subnets are cut from. */
const CLUSTER_CIDR = '10.100.0.0/15';

function node(i: number, eni: string): Node {
  const podCIDR = formatCidr(nthSubnet(parseCidr(CLUSTER_CIDR), 24, i));
  const n = makeNode(`node-${i}`, podCIDR, ipOf(i));
  n.metadata.annotations = { [ANNOTATION_CLOUD_INTERFACE]: eni };
  return n;
}

/** Node i's address in the VPC (172.17.0.0/16; the host-gw host itself is 172.17.255.254). */
function ipOf(i: number): string {
  return formatIP(addToIP(parseIP('172.17.0.1'), i));
}

/** The route bucket's floor: a burst at once, then the refill rate. */
function floorSeconds(routes: number): number {
  const { burst, perSecond } = AWS_BUCKETS.routes;
  return Math.max(0, routes - burst) / perSecond;
}

interface Run {
  nodes: number;
  seconds: number;
  calls: Record<string, number>;
  join: { creates: number; describes: number; ms: number };
}

async function runSize(motoUrl: string, size: number): Promise<Run> {
  const guardPort = await freePort();
  // A fresh guard: fresh buckets, as an account that made no calls lately.
  const guard = await startGuard({
    host: '127.0.0.1',
    port: guardPort,
    upstream: motoUrl,
    quota: ROUTE_LIMIT,
  });
  const endpoint = `http://127.0.0.1:${guardPort}`;
  const moto = motoClient(motoUrl);
  const stats = async (): Promise<GuardStats> =>
    (await (await fetch(`${endpoint}/guard/stats`)).json()) as GuardStats;
  try {
    const vpc = (await moto.send(new CreateVpcCommand({ CidrBlock: '172.17.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (
      await moto.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '172.17.0.0/20' }))
    ).Subnet!.SubnetId!;
    const enis: string[] = [];
    for (let k = 0; k < ENIS; k++) {
      const run = await moto.send(
        new RunInstancesCommand({
          ImageId: 'ami-12c6146b',
          MinCount: 1,
          MaxCount: 1,
          SubnetId: subnet,
        }),
      );
      enis.push(run.Instances![0]!.NetworkInterfaces![0]!.NetworkInterfaceId!);
    }
    const table = (await moto.send(new CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!
      .RouteTableId!;
    const nodeRoutes = async (): Promise<number> =>
      ((await readRoutes(moto, [table])).get(table) ?? []).filter((r) => r.networkInterfaceId)
        .length;

    let result: Run | undefined;
    await withTempStore(async (store) => {
      await applyObject(store, network(table, endpoint));
      for (let i = 1; i <= size; i++) await applyObject(store, node(i, enis[i % ENIS]!));
      const agent = await startAgent(store);
      try {
        const t0 = performance.now();
        await within(`${size} routes`, 600_000, async () => (await nodeRoutes()) >= size, 500);
        const seconds = (performance.now() - t0) / 1000;
        const calls = { ...(await stats()).calls };
        // Steady state: every Node told it is routed, and the reads confirming the changes
        // over (the API has been quiet for 3 s). Then one node joins.
        await within('every Node marked routed', 120_000, async () => {
          const { items } = await listObjects(store, 'Node');
          return items.every((n) => n.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE] === 'routed');
        });
        // Then the reads confirming the changes: the API quiet for 3 s (at most 20 s).
        let last = '';
        let quietSince = performance.now();
        const quietBy = performance.now() + 20_000;
        while (performance.now() - quietSince < 3000 && performance.now() < quietBy) {
          const now = JSON.stringify((await stats()).calls);
          if (now !== last) [last, quietSince] = [now, performance.now()];
          await sleep(250);
        }
        const before = (await stats()).calls;
        const t1 = performance.now();
        await applyObject(store, node(size + 1, enis[0]!));
        await within('the joining node routed', 60_000, async () => (await nodeRoutes()) > size);
        const ms = performance.now() - t1;
        const after = (await stats()).calls;
        const delta = (action: string): number => (after[action] ?? 0) - (before[action] ?? 0);
        result = {
          nodes: size,
          seconds,
          calls,
          join: { creates: delta('CreateRoute'), describes: delta('DescribeRouteTables'), ms },
        };
      } finally {
        await agent.stop();
      }
    });
    return result!;
  } finally {
    guard.close();
  }
}

function network(table: string, endpoint: string): ClusterNetwork {
  return {
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: {
      backend: 'cloud',
      // The nodes' subnets must lie inside it: routes outside the cluster CIDR are not
      // podnet's, so they would be created again on every pass and fill the quota.
      clusterCIDR: CLUSTER_CIDR,
      cloud: {
        provider: 'aws',
        routeTableIDs: [table],
        region: 'us-east-1',
        endpoint,
        routeLimit: ROUTE_LIMIT,
      },
    } as ClusterNetwork['spec'],
  };
}

async function startAgent(store: Store): Promise<{ stop(): Promise<void> }> {
  const log = createLogger('bench', { node: 'bench' });
  log.level = 'error';
  const metrics = new Registry();
  const informers = new InformerCache(store, { metrics });
  // Resync far off: the measured work is the controller's own, not the periodic read.
  const controller = cloudRouteController({ leaseSeconds: 15, resyncMs: 600_000 });
  await controller.start({
    options: { nodeName: 'bench' },
    store,
    informers,
    log,
    metrics,
    health: new HealthState(),
  } as unknown as AgentContext);
  return {
    async stop() {
      await controller.stop();
      await informers.stop();
    },
  };
}

/** host-gw for the same cluster: the same routes, into one host's kernel, from the Nodes. */
async function hostGwSeconds(size: number): Promise<number> {
  const ns = uniqueName('cloudb');
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'eth1', 'up']);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '172.17.255.254/16', 'dev', 'eth0']);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    const self = makeNode('self', '10.99.0.0/24', '172.17.255.254');
    const nodes = [self, ...Array.from({ length: size }, (_, i) => node(i + 1, 'eni-x'))];
    const t = performance.now();
    await reconcileHost(
      { nodes, selfName: 'self', backend: 'host-gw', vtepMac: '' },
      routingKernel(ns),
    );
    return (performance.now() - t) / 1000;
  } finally {
    deleteNamespace(ns);
  }
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  // The controller takes credentials as an agent does; moto accepts any.
  Object.assign(process.env, {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  });
  const port = await freePort();
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const motoUrl = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      if (
        await fetch(`${motoUrl}/moto-api/`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      if (i > 100) throw new Error('moto_server did not start (is it installed?)');
      await sleep(100);
    }
    const runs: Run[] = [];
    const hostGw: number[] = [];
    for (const size of SIZES) {
      runs.push(await runSize(motoUrl, size));
      hostGw.push(await hostGwSeconds(size));
    }
    console.log('nodes  podnet cloud  floor    host-gw   API calls');
    runs.forEach((r, k) => {
      const calls = Object.entries(r.calls)
        .map(([a, n]) => `${a}=${n}`)
        .join(' ');
      console.log(
        `${String(r.nodes).padStart(5)}  ${r.seconds.toFixed(1).padStart(9)} s  ${floorSeconds(r.nodes).toFixed(1).padStart(5)} s  ${hostGw[k]!.toFixed(2).padStart(6)} s  ${calls}`,
      );
      console.log(
        `       one node joining: ${r.join.creates} CreateRoute, ${r.join.describes} DescribeRouteTables, ${r.join.ms.toFixed(0)} ms`,
      );
    });
    console.log(
      `load average while measuring: ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    const big = runs[runs.length - 1]!;
    const floor = floorSeconds(big.nodes);
    console.log(
      `BENCH cloud-routes nodes_${big.nodes}_s=${big.seconds.toFixed(1)} floor=${floor.toFixed(1)} ratio=${(big.seconds / floor).toFixed(2)} goal_ratio=1.1 host_gw_s=${hostGw[hostGw.length - 1]!.toFixed(2)} create_calls=${big.calls.CreateRoute ?? 0}`,
    );
    console.log(
      `BENCH cloud-routes nodes_${runs[0]!.nodes}_s=${runs[0]!.seconds.toFixed(1)} floor=${floorSeconds(runs[0]!.nodes).toFixed(1)} join_create_calls=${big.join.creates} join_describe_calls=${big.join.describes}`,
    );
  } finally {
    moto.kill();
  }
}

await main();
