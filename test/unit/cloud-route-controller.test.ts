// The route controller's loop against a fake EC2 that hangs or fails: a pass that never ends is
// given up (logged, counted) and the next one still comes, so the controller never goes quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { cloudRouteController } from '../../src/agent/cloud-routes.js';
import { HealthState, type AgentContext } from '../../src/agent/controller.js';
import { ANNOTATION_CLOUD_INTERFACE, type ClusterNetwork, type Node } from '../../src/api/types.js';
import type { CloudApi, RouteOutcome } from '../../src/cloud/ec2.js';
import type { RouteTable } from '../../src/cloud/routes.js';
import { applyObject } from '../../src/store/objects.js';
import { InformerCache } from '../../src/store/shared-informers.js';
import { createLogger } from '../../src/util/log.js';
import { withTempStore } from '../helpers/temp-store.js';
import { waitFor } from '../helpers/wait.js';

const TABLE = 'rtb-1';

/**
 * One in-memory route table; `misbehave` decides, per call, whether that call hangs, throws or
 * is slow (answers after 30 ms). `inFlight.most` is the most calls it held at once.
 */
function fakeCloud(
  misbehave: (action: string, n: number) => 'hang' | 'throw' | 'slow' | undefined,
) {
  const routes = new Map<string, string>();
  const counts = new Map<string, number>();
  const inFlight = { now: 0, most: 0 };
  const act = async <T>(action: string, work: () => T): Promise<T> => {
    const n = (counts.get(action) ?? 0) + 1;
    counts.set(action, n);
    const how = misbehave(action, n);
    if (how === 'hang') return new Promise<T>(() => {});
    if (how === 'throw') throw new Error(`${action} broke`);
    if (how === 'slow') {
      inFlight.most = Math.max(inFlight.most, ++inFlight.now);
      await new Promise((resolve) => setTimeout(resolve, 30));
      inFlight.now--;
    }
    return work();
  };
  const api: CloudApi = {
    describeRouteTables: () =>
      act('DescribeRouteTables', (): RouteTable[] => [
        {
          id: TABLE,
          routes: [...routes].map(([destination, eni]) => ({
            destination,
            networkInterfaceId: eni,
            state: 'active' as const,
          })),
        },
      ]),
    createRoute: (_t, destination, eni) =>
      act('CreateRoute', (): RouteOutcome => {
        routes.set(destination, eni);
        return 'done';
      }),
    replaceRoute: (_t, destination, eni) =>
      act('ReplaceRoute', (): RouteOutcome => {
        routes.set(destination, eni);
        return 'done';
      }),
    deleteRoute: (_t, destination) =>
      act('DeleteRoute', (): RouteOutcome => {
        routes.delete(destination);
        return 'done';
      }),
    disableSourceDestCheck: async () => {},
    primaryInterface: async () => ({ eni: 'eni-x' }),
  };
  return { api, routes, counts, inFlight };
}

function node(n: number): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: `node-${n}`, annotations: { [ANNOTATION_CLOUD_INTERFACE]: `eni-${n}` } },
    spec: { podCIDR: `10.244.${n}.0/24` },
    status: { addresses: [{ type: 'InternalIP', address: `172.31.1.${n}` }] },
  };
}

const network: ClusterNetwork = {
  apiVersion: 'podnet.io/v1',
  kind: 'ClusterNetwork',
  metadata: { name: 'default' },
  spec: {
    backend: 'cloud',
    cloud: { provider: 'aws', routeTableIDs: [TABLE], region: 'us-east-1' },
  } as ClusterNetwork['spec'],
};

async function withController(
  api: CloudApi,
  fn: (ctx: {
    metrics: Registry;
    health: HealthState;
    addNode(n: number): Promise<void>;
  }) => Promise<void>,
): Promise<void> {
  await withTempStore(async (store) => {
    await applyObject(store, network);
    await applyObject(store, node(1));
    const log = createLogger('test', { node: 'node-1' });
    log.level = 'silent';
    const metrics = new Registry();
    const health = new HealthState();
    const informers = new InformerCache(store, { metrics });
    const controller = cloudRouteController({
      leaseSeconds: 3,
      resyncMs: 100,
      stepTimeoutMs: 200,
      api: () => api,
    });
    await controller.start({
      options: { nodeName: 'node-1' },
      store,
      informers,
      log,
      metrics,
      health,
    } as unknown as AgentContext);
    try {
      await fn({ metrics, health, addNode: async (n) => void (await applyObject(store, node(n))) });
    } finally {
      await controller.stop();
      await informers.stop();
    }
  });
}

async function failedPasses(metrics: Registry, reason: string): Promise<number> {
  const m = await metrics.getSingleMetric('podnet_cloud_route_pass_failures_total')?.get();
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

test('cloud controller: a cloud call that never answers times the pass out, and passes go on', async () => {
  // The first read and the first create never answer; everything after does.
  const cloud = fakeCloud((action, n) =>
    (action === 'DescribeRouteTables' || action === 'CreateRoute') && n === 1 ? 'hang' : undefined,
  );
  await withController(cloud.api, async ({ metrics, health, addNode }) => {
    await waitFor('node-1 routed', () => cloud.routes.get('10.244.1.0/24') === 'eni-1', 10_000);
    assert.equal(await failedPasses(metrics, 'timeout'), 2);
    assert.equal(await failedPasses(metrics, 'error'), 0);
    // Still passing: a node joining later is routed too, and the error line is cleared.
    await addNode(2);
    await waitFor('node-2 routed', () => cloud.routes.get('10.244.2.0/24') === 'eni-2', 10_000);
    assert.equal(health.report().errors['cloud-routes'], undefined);
  });
});

test('cloud controller: a call that throws something unexpected is logged, counted and retried', async () => {
  const cloud = fakeCloud((action, n) =>
    action === 'CreateRoute' && n <= 3 ? 'throw' : undefined,
  );
  await withController(cloud.api, async ({ metrics, health }) => {
    const line = await waitFor(
      'the health error',
      () => health.report().errors['cloud-routes'],
      5000,
    );
    assert.equal(line, 'CreateRoute broke');
    await waitFor('node-1 routed', () => cloud.routes.get('10.244.1.0/24') === 'eni-1', 15_000);
    assert.equal(await failedPasses(metrics, 'error'), 3);
  });
});

test('cloud controller: a read that hangs again and again never stops the loop', async () => {
  // Every other read hangs; the controller keeps coming back to the table.
  const cloud = fakeCloud((action, n) =>
    action === 'DescribeRouteTables' && n % 2 === 1 ? 'hang' : undefined,
  );
  await withController(cloud.api, async ({ metrics }) => {
    await waitFor('five reads', () => (cloud.counts.get('DescribeRouteTables') ?? 0) >= 5, 15_000);
    assert.ok((await failedPasses(metrics, 'timeout')) >= 2);
    assert.equal(cloud.routes.get('10.244.1.0/24'), 'eni-1');
  });
});

test('cloud controller: route calls go out a few at a time, not one by one', async () => {
  const cloud = fakeCloud((action) => (action === 'CreateRoute' ? 'slow' : undefined));
  await withController(cloud.api, async ({ addNode }) => {
    await waitFor('node-1 routed', () => cloud.routes.get('10.244.1.0/24') === 'eni-1', 5000);
    await Promise.all(Array.from({ length: 15 }, (_, i) => addNode(i + 2)));
    await waitFor('16 routes', () => (cloud.routes.size === 16 ? true : undefined), 10_000);
    assert.ok(cloud.inFlight.most > 1, `at most ${cloud.inFlight.most} call at once`);
    assert.ok(cloud.inFlight.most <= 4, `${cloud.inFlight.most} calls at once`);
  });
});
