// The cloud route controller: with `backend: cloud`, one agent (elected by a lease in the
// store) keeps every configured route table in line with the Nodes — one route per node's pod
// subnet to that node's interface, as many as the quota allows — and tells each Node how it is
// placed (annotation for the peers' routing, NetworkUnavailable condition for people).
// Node changes are planned against the tables as last read and as changed since, so a node
// joining costs one CreateRoute; the tables are read again every resync, and after changes
// under a growing backoff (AWS's reads are eventually consistent: a route just written may be
// missing from the next read, so what this controller wrote recently is trusted over it).
import { Counter, Gauge } from 'prom-client';
import {
  ANNOTATION_CLOUD_INTERFACE,
  ANNOTATION_CLOUD_ROUTE,
  DEFAULT_CLUSTER_NETWORK,
  type ClusterNetwork,
  type CloudSettings,
  type Node,
} from '../api/types.js';
import { cloudRouteCondition } from '../cloud/condition.js';
import { ec2Api, type CallObserver, type CloudApi, type RouteOutcome } from '../cloud/ec2.js';
import { clusterCIDRsOf } from '../api/cluster-families.js';
import { planRoutes, type RouteCall, type RoutePlan, type RouteTable } from '../cloud/routes.js';
import { withCondition } from '../routing/condition.js';
import { hostFromNode } from '../routing/peers.js';
import { updateObject } from '../store/objects.js';
import { DeadlineError, withDeadline } from '../util/deadline.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';
import { campaignAmongNodes, type Election } from './leader.js';

const NAME = 'cloud-routes';
/** Kubernetes' route controller resyncs every 10 s; a full read costs one DescribeRouteTables. */
const DEFAULT_RESYNC_MS = 10_000;
/** How long a route this controller wrote, and no read has shown yet, is trusted over a read. */
const TRUST_WRITES_MS = 60_000;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;
/**
 * The longest one step of a pass (a cloud call, the Node updates) may take. A step that never
 * answers would otherwise hold the pass, and with it every later pass, forever.
 */
const DEFAULT_STEP_TIMEOUT_MS = 120_000;
/**
 * Route calls sent at once. The token bucket, not this, sets the pace; a few in flight keep a
 * slow answer from holding the next token unused.
 */
const ROUTE_CALLS_IN_FLIGHT = 4;
/** Routes one table may hold when spec.cloud.routeLimit is not set: AWS's default quota. */
export const DEFAULT_ROUTE_LIMIT = 500;

export interface CloudRouteOptions {
  leaseSeconds?: number;
  resyncMs?: number;
  stepTimeoutMs?: number;
  /** The EC2 API (tests hand in a fake). */
  api?: (settings: CloudSettings, observe: CallObserver) => CloudApi;
}

interface Written {
  table: string;
  destination: string;
  /** The target written, or undefined for a delete. */
  networkInterfaceId?: string;
  at: number;
}

export function cloudRouteController(opts: CloudRouteOptions = {}): Controller {
  let election: Election | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const log = ctx.log.child({ controller: NAME });
      const nodes = ctx.informers.informer('Node');
      const networks = ctx.informers.informer('ClusterNetwork');
      const metrics = cloudMetrics(ctx);
      const resyncMs =
        opts.resyncMs ?? (Number(process.env.PODNET_CLOUD_RESYNC_MS) || DEFAULT_RESYNC_MS);
      const stepTimeoutMs = opts.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
      const step = <T>(what: string, work: Promise<T>): Promise<T> =>
        withDeadline(work, stepTimeoutMs, what);
      let leading = false;
      let api: CloudApi | undefined;
      let apiFor = '';
      let tables: RouteTable[] | undefined;
      let lastFullRead = 0;
      let backoffMs = 0;
      let learnedLimit: number | undefined;
      let written: Written[] = [];
      let wanted = false;

      const network = (): ClusterNetwork['spec'] => getSpec(networks.cache.values());
      const schedule = (delayMs: number): void => {
        if (stopped || !leading) return;
        clearTimeout(timer);
        timer = setTimeout(() => trigger(), delayMs);
      };
      // One pass at a time; a trigger during a pass runs one more pass after it.
      let busy = false;
      const trigger = (): void => {
        if (stopped || !leading) return;
        wanted = true;
        if (busy) return;
        busy = true;
        running = (async () => {
          try {
            while (wanted && leading && !stopped) {
              wanted = false;
              await pass();
            }
          } finally {
            busy = false;
          }
        })();
      };

      // Every pass that runs while leading ends by scheduling the next, whatever happened in it.
      const pass = async (): Promise<void> => {
        let nextMs = resyncMs;
        try {
          const spec = network();
          const cloud = spec.cloud;
          if (spec.backend !== 'cloud' || !cloud) return;
          const key = JSON.stringify([cloud.region, cloud.endpoint]);
          if (!api || apiFor !== key) {
            api = (opts.api ?? ec2Api)(cloud, (action, outcome) =>
              metrics.calls.inc({ action, outcome }),
            );
            apiFor = key;
            tables = undefined;
          }
          const now = Date.now();
          if (!tables || now - lastFullRead >= resyncMs || backoffMs > 0) {
            const read = await step(
              'DescribeRouteTables',
              api.describeRouteTables(cloud.routeTableIDs),
            );
            // A write a read has shown is settled: a later read that lacks it means someone
            // else changed the table, which is repaired, not trusted away.
            written = written.filter((w) => now - w.at < TRUST_WRITES_MS && !shown(read, w));
            tables = trustWrites(read, written, now);
            lastFullRead = now;
            learnedLimit = undefined;
          }
          const limit = Math.min(cloud.routeLimit ?? DEFAULT_ROUTE_LIMIT, learnedLimit ?? Infinity);
          const plan = planRoutes({
            tables,
            nodes: [...nodes.cache.values()].flatMap(routedNode),
            clusterCIDRs: clusterCIDRsOf(spec),
            routeLimit: limit,
            overflow: cloud.overflow ?? 'refuse',
          });
          let changed = 0;
          let refused: RouteCall | undefined;
          const done = (call: RouteCall): void => {
            changed++;
            tables = applied(tables!, call);
            written.push({
              table: call.table,
              destination: call.destination,
              ...(call.op === 'delete' ? {} : { networkInterfaceId: call.networkInterfaceId }),
              at: Date.now(),
            });
            log.info({ ...call }, `route ${call.op}d`);
          };
          // Deletes first (they free the slots creates need), each phase a few calls at a time.
          for (const phase of phases(plan.calls)) {
            await inFlight(phase, ROUTE_CALLS_IN_FLIGHT, async (call) => {
              if (!leading || stopped || refused) return false;
              const outcome = await step(`${call.op} route ${call.destination}`, apply(api!, call));
              if (outcome === 'route-limit') refused ??= call;
              else done(call);
              return true;
            });
            if (!leading || stopped) return;
            if (refused) {
              // The account's quota is lower than configured: plan again within what fits.
              const full = refused.table;
              learnedLimit = tables.find((t) => t.id === full)?.routes.length ?? limit;
              log.warn(
                { table: full, routes: learnedLimit },
                'RouteLimitExceeded: the table is full',
              );
              wanted = true;
              break;
            }
          }
          await step('the Node updates', publish(ctx, plan, cloud));
          metrics.placed(plan);
          ctx.health.setError(NAME, undefined);
          // After changes, read again soon (then less and less often) to confirm them.
          backoffMs =
            changed > 0
              ? Math.min(MAX_BACKOFF_MS, backoffMs ? backoffMs * 2 : FIRST_BACKOFF_MS)
              : 0;
          nextMs = backoffMs || resyncMs;
        } catch (err) {
          const timedOut = err instanceof DeadlineError;
          metrics.failedPasses.inc({ reason: timedOut ? 'timeout' : 'error' });
          ctx.health.setError(NAME, errorMessage(err));
          log.warn(
            { err: errorMessage(err) },
            timedOut ? 'cloud routes pass timed out' : 'cloud routes not reconciled',
          );
          // What the tables hold is unknown now (an abandoned call may still land): read again.
          tables = undefined;
          backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs ? backoffMs * 2 : FIRST_BACKOFF_MS);
          nextMs = backoffMs;
        } finally {
          schedule(nextMs);
        }
      };

      nodes.addHandler((c) => {
        const before = c.old && JSON.stringify(routedNode(c.old));
        const after = c.type === 'deleted' ? undefined : JSON.stringify(routedNode(c.object));
        if (before !== after) trigger();
      });
      networks.addHandler(() => trigger());
      await Promise.all([nodes.synced, networks.synced]);

      election = campaignAmongNodes(ctx, 'cloud-route-controller', {
        leaseSeconds: opts.leaseSeconds,
        log,
        onElected: () => {
          leading = true;
          tables = undefined;
          trigger();
        },
        onDeposed: () => {
          leading = false;
          clearTimeout(timer);
        },
      });
      ctx.health.setReady(NAME, true);
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await election?.stop();
      await running;
    },
  };
}

function getSpec(items: Iterable<ClusterNetwork>): ClusterNetwork['spec'] {
  for (const cn of items) {
    if (cn.metadata.name === 'default') return { ...DEFAULT_CLUSTER_NETWORK, ...cn.spec };
  }
  return DEFAULT_CLUSTER_NETWORK;
}

function routedNode(node: Node) {
  const host = hostFromNode(node);
  if (!host) return [];
  const eni = node.metadata.annotations?.[ANNOTATION_CLOUD_INTERFACE];
  // A dual-stack node's IPv6 subnet is routed beside its IPv4 one, to the same interface (on
  // an IPv6-only node the two are one subnet).
  const podCIDRs = [...new Set([host.podCIDR, host.podCIDRIPv6 ?? host.podCIDR])];
  return [{ name: host.name, podCIDRs, ...(eni ? { networkInterfaceId: eni } : {}) }];
}

/** The plan's calls as runs of one op, in the plan's order. */
function phases(calls: readonly RouteCall[]): RouteCall[][] {
  const out: RouteCall[][] = [];
  for (const call of calls) {
    const last = out[out.length - 1];
    if (last && last[0]!.op === call.op) last.push(call);
    else out.push([call]);
  }
  return out;
}

/**
 * Runs `work` over `items` in order, at most `limit` at once, until one answers false. Settles
 * when every started call has; the first failure is thrown then (none is left running).
 */
async function inFlight<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<boolean>,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failure) {
      const item = items[next++]!;
      try {
        if (!(await work(item))) return;
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
}

function apply(api: CloudApi, call: RouteCall): Promise<RouteOutcome> {
  switch (call.op) {
    case 'create':
      return api.createRoute(call.table, call.destination, call.networkInterfaceId);
    case 'replace':
      return api.replaceRoute(call.table, call.destination, call.networkInterfaceId);
    case 'delete':
      return api.deleteRoute(call.table, call.destination);
  }
}

/** The tables as they are after `call` succeeded. */
function applied(tables: RouteTable[], call: RouteCall): RouteTable[] {
  return tables.map((t) => {
    if (t.id !== call.table) return t;
    const routes = t.routes.filter((r) => r.destination !== call.destination);
    if (call.op !== 'delete') {
      routes.push({
        destination: call.destination,
        networkInterfaceId: call.networkInterfaceId,
        state: 'active',
      });
    }
    return { ...t, routes };
  });
}

/** Whether a read already reflects a write: the route there with its target, or gone. */
function shown(tables: readonly RouteTable[], w: Written): boolean {
  const route = tables
    .find((t) => t.id === w.table)
    ?.routes.find((r) => r.destination === w.destination);
  return w.networkInterfaceId === undefined
    ? route === undefined
    : route?.networkInterfaceId === w.networkInterfaceId;
}

/** A fresh read with this controller's unsettled writes laid over it (the read may predate them). */
function trustWrites(tables: RouteTable[], written: readonly Written[], now: number): RouteTable[] {
  let result = tables;
  for (const w of written) {
    if (now - w.at >= TRUST_WRITES_MS) continue;
    const call: RouteCall =
      w.networkInterfaceId === undefined
        ? { op: 'delete', table: w.table, destination: w.destination, why: '' }
        : {
            op: 'create',
            table: w.table,
            destination: w.destination,
            networkInterfaceId: w.networkInterfaceId,
          };
    result = applied(result, call);
  }
  return result;
}

/** Each Node's placement annotation and condition, written only where they differ. */
async function publish(ctx: AgentContext, plan: RoutePlan, cloud: CloudSettings): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  for (const node of ctx.informers.informer('Node').cache.values()) {
    const host = hostFromNode(node);
    if (!host) continue;
    const placement = plan.placements.get(host.name);
    const annotation = node.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE];
    const wanted = cloudRouteCondition(placement, {
      tables: cloud.routeTableIDs,
      podCIDR: host.podCIDR,
      ...(plan.shortfall ? { shortfall: plan.shortfall } : {}),
    });
    if (annotation === placement && !withCondition(node, wanted, now)) continue;
    await updateObject(ctx.store, 'Node', undefined, host.name, (current: Node) => {
      const annotations = { ...current.metadata.annotations };
      if (placement) annotations[ANNOTATION_CLOUD_ROUTE] = placement;
      else delete annotations[ANNOTATION_CLOUD_ROUTE];
      const next = { ...current, metadata: { ...current.metadata, annotations } };
      return withCondition(next, wanted, now) ?? (annotation === placement ? undefined : next);
    }).catch((err) =>
      ctx.log.warn({ node: host.name, err: errorMessage(err) }, 'could not update the Node'),
    );
  }
}

function cloudMetrics(ctx: AgentContext) {
  const registers = [ctx.metrics];
  const calls = new Counter({
    name: 'podnet_cloud_api_calls_total',
    help: 'Cloud API calls the route controller made, by action and outcome (ok or the error code)',
    labelNames: ['action', 'outcome'],
    registers,
  });
  const nodes = new Gauge({
    name: 'podnet_cloud_route_nodes',
    help: 'Nodes by how the cloud route tables carry them (routed, overflow, refused)',
    labelNames: ['placement'],
    registers,
  });
  const failedPasses = new Counter({
    name: 'podnet_cloud_route_pass_failures_total',
    help: 'Route controller passes given up, by reason (timeout: a step never answered; error)',
    labelNames: ['reason'],
    registers,
  });
  return {
    calls,
    failedPasses,
    placed(plan: RoutePlan): void {
      const counts = { routed: 0, overflow: 0, refused: 0 };
      for (const p of plan.placements.values()) counts[p]++;
      for (const [placement, n] of Object.entries(counts)) nodes.set({ placement }, n);
    },
  };
}
