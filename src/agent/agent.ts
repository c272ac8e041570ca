// The per-node daemon: opens the store, starts its controllers in waves, serves health and
// metrics, and on SIGTERM stops watching while leaving the datapath exactly as it is.
import { mkdirSync } from 'node:fs';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createLogger } from '../util/log.js';
import { openSource } from '../kube/open.js';
import { InformerCache } from '../store/shared-informers.js';
import {
  HealthState,
  type AgentContext,
  type AgentOptions,
  type Controller,
} from './controller.js';
import { HttpRoutes, startHealthServer } from './http.js';
import { NodeController } from './node-controller.js';
import { NodeLeaseController } from './node-lease.js';
import { NodeLifecycleController } from './node-lifecycle.js';
import { CniServer } from './cni-server.js';
import { proxyController } from './proxy.js';
import { endpointSliceController } from './endpointslice-controller.js';
import { namespaceController } from './namespace-controller.js';
import { offloadsController } from './offloads.js';
import { routingController } from './routing.js';
import { policyController } from './policy.js';
import { routingSourceController } from './routing-source.js';
import { networkAckController } from './network-ack.js';
import { cloudIdentityController } from './cloud-identity.js';
import { cloudRouteController } from './cloud-routes.js';
import { guardController } from './guard.js';
import { ebpfDatapathController } from './ebpf-datapath.js';
import { flowsController } from './flows.js';
import { getClusterNetwork, getObject } from '../store/objects.js';
import { effectiveNetwork } from '../api/node-settings.js';
import { registerHeapAfterGc } from '../util/heap-metrics.js';
import { cachedObjectTransforms } from './cached-objects.js';

/**
 * Controllers in start waves: the controllers of one wave start together, once every one of
 * the wave before has started. A new capability with its own controller joins the first wave
 * after everything it needs.
 */
async function controllerWaves(ctx: AgentContext): Promise<Controller[][]> {
  // The node controller leases the pod subnet the CNI server hands addresses from.
  const node = new NodeController(Number(process.env.PODNET_SUBNET_LEASE_TTL) || undefined);
  // Where routes come from at start (a host's own setting from a rollout wins); the
  // routing-source controller follows it from then on.
  const bgp =
    effectiveNetwork(
      await getClusterNetwork(ctx.store),
      await getObject(ctx.store, 'Node', undefined, ctx.options.nodeName),
    ).routing === 'bgp';
  const routing = routingController({ bgp });
  const flows = flowsController();
  const policy = policyController({ onDenied: (c) => flows.addDenied(c) });
  const cni = new CniServer(node, policy, orphanScanMs());
  const leaseSeconds = Number(process.env.PODNET_LEADER_LEASE_TTL) || undefined;
  return [
    [node],
    [
      new NodeLeaseController(),
      new NodeLifecycleController(),
      // Before the CNI server, so that the first ADD finds the policies already programmed.
      policy,
      routing,
      // backend cloud only: this node's interface, then (elected) the route tables.
      cloudIdentityController(),
    ],
    [
      cni,
      cloudRouteController({ leaseSeconds }),
      // After routing: the tunnel device it makes is among those it tunes; the route table it
      // programs is what flows read paths from.
      offloadsController(),
      routingSourceController(routing),
      flows,
      // Every agent stands for election; the leader writes every service's slices.
      endpointSliceController({ leaseSeconds }),
      // Likewise elected: the leader finishes the deletion of Terminating namespaces.
      namespaceController({ leaseSeconds }),
      proxyController(),
    ],
    [guardController(cni)],
    // After the guard: pods it lets out are the ones the programs may fast-path.
    [ebpfDatapathController(cni)],
    // Last: it reports a host's settings applied once every controller above has them.
    [networkAckController()],
  ];
}

/**
 * How often the CNI server sweeps addresses of pods gone without a DEL: a minute, or
 * `PODNET_ORPHAN_SCAN_SECONDS` (tests shorten it so that a lost sandbox is reclaimed in seconds).
 */
function orphanScanMs(): number | undefined {
  const v = Number(process.env.PODNET_ORPHAN_SCAN_SECONDS);
  return Number.isFinite(v) && v > 0 ? v * 1000 : undefined;
}

export async function runAgent(options: AgentOptions): Promise<void> {
  const log = createLogger('podnet-agent', { node: options.nodeName });
  mkdirSync(options.stateDir, { recursive: true });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  registerHeapAfterGc(metrics);
  const store = await openSource(options.storeUrl, {
    metrics,
    // Refused credentials or permissions do not heal by retrying: say which, and stop.
    onRefused: (err) => {
      log.error({ err: err.message }, 'the Kubernetes API refused this agent');
      process.exit(1);
    },
  });
  const health = new HealthState();
  const informers: InformerCache = new InformerCache(store, {
    metrics,
    transforms: cachedObjectTransforms(() => informers.informer('Pod').cache),
    onError: (kind, message) => log.warn({ kind, err: message }, 'watch interrupted; retrying'),
  });
  const http = new HttpRoutes();
  const ctx: AgentContext = { options, store, informers, log, metrics, health, http };
  const server = await startHealthServer(options.metricsAddress, metrics, health, http);

  const started: Controller[] = [];
  // How long each controller took to start, for the log: where a slow start went.
  const startMs: Record<string, number> = {};
  const start = async (controller: Controller): Promise<void> => {
    health.setReady(controller.name, false);
    const from = performance.now();
    await controller.start(ctx);
    startMs[controller.name] = Math.round(performance.now() - from);
    started.push(controller);
  };
  try {
    for (const wave of await controllerWaves(ctx)) {
      const outcomes = await Promise.allSettled(wave.map(start));
      const failed = outcomes.find((o) => o.status === 'rejected');
      if (failed) throw failed.reason;
    }
  } catch (err) {
    // A controller that cannot start ends the agent (with its message), not a hung process.
    await informers.stop();
    for (const controller of started.reverse()) await controller.stop();
    server.close();
    await store.close();
    throw err;
  }
  log.info(
    {
      controllers: started.map((c) => c.name),
      startMs,
      sinceProcessStartMs: Math.round(performance.now()),
    },
    'agent started',
  );

  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('stopping; the datapath stays as it is');
  // No handler runs on a controller that is stopping.
  await informers.stop();
  for (const controller of started.reverse()) await controller.stop();
  server.close();
  await store.close();
}
