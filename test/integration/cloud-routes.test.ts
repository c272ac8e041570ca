// The cloud route controller against moto_server, the EC2 API emulator the image ships, on a
// loopback port: real SDK calls, real route tables, two agents' controllers electing one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import {
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteRouteCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  ReplaceRouteCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { Registry } from 'prom-client';
import { HealthState, type AgentContext, type Controller } from '../../src/agent/controller.js';
import { cloudRouteController } from '../../src/agent/cloud-routes.js';
import {
  ANNOTATION_CLOUD_INTERFACE,
  ANNOTATION_CLOUD_ROUTE,
  type ClusterNetwork,
  type Node,
} from '../../src/api/types.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import { applyObject, deleteObject, listObjects } from '../../src/store/objects.js';
import type { Store } from '../../src/store/store.js';
import { createLogger } from '../../src/util/log.js';
import { withTempStore } from '../helpers/temp-store.js';
import { waitFor } from '../helpers/wait.js';

const moto = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
})();

process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
process.env.AWS_EC2_METADATA_DISABLED = 'true';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startMoto(): Promise<{ endpoint: string; proc: ChildProcess }> {
  if (!moto) {
    throw new Error(
      'moto_server is not on PATH: the machine image ships it (moto 5.2 under Python 3.11); it cannot come from Debian or PyPI here',
    );
  }
  const port = await freePort();
  const proc = spawn(moto, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${endpoint}/moto-api/`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { endpoint, proc };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error('moto_server did not start');
}

function node(name: string, n: number, eni?: string): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: eni ? { [ANNOTATION_CLOUD_INTERFACE]: eni } : {} },
    // Dual-stack: the IPv6 subnet gets a route of its own beside the IPv4 one.
    spec: { podCIDR: `10.244.${n}.0/24`, podCIDRs: [`10.244.${n}.0/24`, `fd00:10:244:${n}::/64`] },
    status: { addresses: [{ type: 'InternalIP', address: `172.31.1.${n}` }] },
  };
}

function network(table: string, endpoint: string, extra: object = {}): ClusterNetwork {
  return {
    apiVersion: 'podnet.io/v1',
    kind: 'ClusterNetwork',
    metadata: { name: 'default' },
    spec: {
      backend: 'cloud',
      clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
      cloud: { provider: 'aws', routeTableIDs: [table], region: 'us-east-1', endpoint, ...extra },
    } as ClusterNetwork['spec'],
  };
}

interface Agent {
  controller: Controller;
  informers: InformerCache;
  health: HealthState;
  metrics: Registry;
}

async function startAgent(store: Store, name: string): Promise<Agent> {
  const log = createLogger('test', { node: name });
  log.level = 'error';
  const metrics = new Registry();
  const health = new HealthState();
  const informers = new InformerCache(store, { metrics });
  const controller = cloudRouteController({ leaseSeconds: 6, resyncMs: 1000 });
  const ctx = {
    options: { nodeName: name },
    store,
    informers,
    log,
    metrics,
    health,
  } as unknown as AgentContext;
  await controller.start(ctx);
  return { controller, informers, health, metrics };
}

async function stopAgent(a: Agent): Promise<void> {
  await a.controller.stop();
  await a.informers.stop();
}

test('cloud: the route controller keeps a real EC2 route table in line with the Nodes', async () => {
  const { endpoint, proc } = await startMoto();
  try {
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint });
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '172.31.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (
      await ec2.send(
        new CreateSubnetCommand({
          VpcId: vpc,
          CidrBlock: '172.31.1.0/24',
          AvailabilityZone: 'us-east-1a',
        }),
      )
    ).Subnet!.SubnetId!;
    const enis: string[] = [];
    for (const n of [1, 2, 3, 4]) {
      const run = await ec2.send(
        new RunInstancesCommand({
          ImageId: 'ami-12c6146b',
          MinCount: 1,
          MaxCount: 1,
          SubnetId: subnet,
          PrivateIpAddress: `172.31.1.${n}`,
        }),
      );
      enis.push(run.Instances![0]!.NetworkInterfaces![0]!.NetworkInterfaceId!);
    }
    const table = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!
      .RouteTableId!;
    // A route of someone else's, outside the cluster CIDR: never touched.
    await ec2.send(
      new CreateRouteCommand({
        RouteTableId: table,
        DestinationCidrBlock: '192.168.0.0/16',
        NetworkInterfaceId: enis[3],
      }),
    );
    const routes = async (): Promise<Record<string, string>> => {
      const out = await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [table] }));
      return Object.fromEntries(
        (out.RouteTables![0]!.Routes ?? []).map((r) => [
          (r.DestinationCidrBlock ?? r.DestinationIpv6CidrBlock)!,
          r.NetworkInterfaceId ?? r.GatewayId ?? '',
        ]),
      );
    };
    const until = async (
      what: string,
      check: (r: Record<string, string>) => boolean,
      ms = 15000,
    ) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const r = await routes();
        if (check(r)) return r;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify(r)}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    };

    await withTempStore(async (store) => {
      await applyObject(store, network(table, endpoint));
      for (const n of [1, 2, 3]) await applyObject(store, node(`node-${n}`, n, enis[n - 1]));
      const a = await startAgent(store, 'node-1');
      const b = await startAgent(store, 'node-2');
      try {
        // Every node's subnets (both families) to its interface; the foreign route stays.
        await until('three nodes routed in both families', (r) =>
          [1, 2, 3].every(
            (n) =>
              r[`10.244.${n}.0/24`] === enis[n - 1] && r[`fd00:10:244:${n}::/64`] === enis[n - 1],
          ),
        );
        assert.equal((await routes())['192.168.0.0/16'], enis[3]);
        // Asynchronously: the controllers run in this process, and their leases must not lapse
        // while the AWS CLI starts.
        const { stdout: cli } = await promisify(execFile)(
          'aws',
          [
            'ec2',
            'describe-route-tables',
            '--endpoint-url',
            endpoint,
            '--region',
            'us-east-1',
            '--route-table-ids',
            table,
            '--output',
            'json',
          ],
          { encoding: 'utf8', env: { ...process.env } },
        );
        for (const n of [1, 2, 3])
          assert.match(
            cli,
            new RegExp(
              `10\\.244\\.${n}\\.0/24[\\s\\S]*?${enis[n - 1]}|${enis[n - 1]}[\\s\\S]*?10\\.244\\.${n}\\.0/24`,
            ),
          );
        const routed = await waitForNode(
          store,
          (n) =>
            n.metadata.name === 'node-1' &&
            n.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE] === 'routed',
        );
        assert.equal(routed?.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE], 'routed');
        assert.equal(
          routed?.status?.conditions?.find((c) => c.type === 'NetworkUnavailable')?.reason,
          'RouteCreated',
        );

        // Deleted by hand, pointed elsewhere by hand: repaired within a resync. First a read of
        // the tables that shows the controller its own writes: until one has, a write missing
        // from a read is taken for the API's eventual consistency, not for a hand change.
        const reads = async (): Promise<number> => {
          let sum = 0;
          for (const agent of [a, b]) {
            const metric = await agent.metrics
              .getSingleMetric('podnet_cloud_api_calls_total')
              ?.get();
            for (const v of metric?.values ?? [])
              if (v.labels.action === 'DescribeRouteTables' && v.labels.outcome === 'ok')
                sum += v.value;
          }
          return sum;
        };
        const readsAfterWrites = (await reads()) + 1;
        const deadline = Date.now() + 15000;
        while ((await reads()) < readsAfterWrites) {
          assert.ok(Date.now() < deadline, 'no read of the route tables after the writes');
          await new Promise((res) => setTimeout(res, 100));
        }
        await ec2.send(
          new DeleteRouteCommand({ RouteTableId: table, DestinationCidrBlock: '10.244.2.0/24' }),
        );
        await ec2.send(
          new ReplaceRouteCommand({
            RouteTableId: table,
            DestinationCidrBlock: '10.244.3.0/24',
            NetworkInterfaceId: enis[3],
          }),
        );
        await until(
          'repaired',
          (r) => r['10.244.2.0/24'] === enis[1] && r['10.244.3.0/24'] === enis[2],
          15000,
        );

        // A stale in-cluster route matching no node goes; a deleted node's route goes.
        await ec2.send(
          new CreateRouteCommand({
            RouteTableId: table,
            DestinationCidrBlock: '10.244.77.0/24',
            NetworkInterfaceId: enis[3],
          }),
        );
        await deleteObject(store, 'Node', undefined, 'node-3');
        await until(
          'stale routes removed',
          (r) => !r['10.244.77.0/24'] && !r['10.244.3.0/24'] && !r['fd00:10:244:3::/64'],
        );
        assert.equal((await routes())['192.168.0.0/16'], enis[3]);

        // The leader stops; the other takes over within the lease and routes a new node.
        await stopAgent(a);
        await applyObject(store, node('node-4', 4, enis[3]));
        await until('node-4 routed after takeover', (r) => r['10.244.4.0/24'] === enis[3], 15000);

        // The quota: with room for one more route than the foreign ones, the rest are refused.
        // IPv4 routes: local + 192.168/16 + node-1, node-2, node-4. A limit of 4 fits two nodes,
        // and the refused node's IPv6 route goes with its IPv4 one.
        await applyObject(store, network(table, endpoint, { routeLimit: 4 }));
        await until('one node’s routes removed', (r) =>
          ['10.244.', 'fd00:10:244:'].every(
            (prefix) => Object.keys(r).filter((d) => d.startsWith(prefix)).length === 2,
          ),
        );
        const refused = await waitForNode(
          store,
          (n) => n.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE] === 'refused',
        );
        const condition = refused.status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
        assert.equal(condition?.status, 'True');
        assert.match(
          condition?.message ?? '',
          new RegExp(
            `route table ${table} is full: 4 of 4 routes \\(AWS quota L-93826ACB\\); raise the quota .* or set spec\\.cloud\\.overflow: vxlan`,
          ),
        );
        await applyObject(store, network(table, endpoint, { routeLimit: 4, overflow: 'vxlan' }));
        await waitForNode(
          store,
          (n) =>
            n.metadata.name === refused.metadata.name &&
            n.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE] === 'overflow',
        );
        // A routed node leaves: the overflowing one moves onto a route.
        const routedOther = ['node-1', 'node-2', 'node-4'].find(
          (n) => n !== refused.metadata.name && n !== 'node-1',
        )!;
        await deleteObject(store, 'Node', undefined, routedOther);
        await waitForNode(
          store,
          (n) =>
            n.metadata.name === refused.metadata.name &&
            n.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE] === 'routed',
        );
        const text = await b.metrics.metrics();
        assert.match(text, /podnet_cloud_api_calls_total\{action="CreateRoute",outcome="ok"\} \d+/);

        // An unknown route table: one clear line on the agent's health.
        await applyObject(store, network('rtb-00000000', endpoint));
        const line = await waitFor(
          'the health error',
          () => b.health.report().errors['cloud-routes'],
          10000,
        );
        assert.equal(
          line,
          'route table rtb-00000000 does not exist in us-east-1 (spec.cloud.routeTableIDs)',
        );
      } finally {
        await stopAgent(b);
        await stopAgent(a);
      }
    });
  } finally {
    proc.kill();
  }
});

async function waitForNode(store: Store, match: (n: Node) => boolean): Promise<Node> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const found = (await listObjects(store, 'Node')).items.find(match);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('timed out waiting for a Node');
    await new Promise((r) => setTimeout(r, 200));
  }
}
