// The routing controller: keeps this host's routes, neighbours, FDB entries, tunnel devices
// and sysctls in line with the cluster's Nodes (src/routing/ decides, src/kernel/ applies).
// It publishes this node's VTEP MAC, reconciles on every Node or ClusterNetwork change, on
// every link coming up and every PERIOD_MS (repairing what someone deleted by hand), and
// reports peers it cannot reach as the Node's NetworkUnavailable condition.
// With `routing: bgp` the Nodes to route to are what BGP learnt (handed in through `routeTo`
// by the BGP controller) rather than the store's Nodes, and nothing is reconciled before BGP
// has spoken once: after an agent restart the kernel keeps every route until then. The source
// can change while the agent runs (`setSource`), handing routes over without removing them.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  ANNOTATION_VTEP_MAC,
  ANNOTATION_WIREGUARD_KEY,
  ANNOTATION_WIREGUARD_ROTATE,
  DEFAULT_CLUSTER_NETWORK,
  type ClusterNetwork,
  type Node,
} from '../api/types.js';
import { effectiveNetwork } from '../api/node-settings.js';
import { kernelFeatures } from '../kernel/features.js';
import { syncIpipBpf } from '../kernel/bpf-ipip.js';
import type { Change } from '../store/informer.js';
import { comesAndGoesWithPods, watchLinksUp, type LinkWatch } from '../kernel/link-watch.js';
import { routingKernel } from '../kernel/routing-kernel.js';
import { backendAdvice } from '../routing/advice.js';
import { backendDriver } from '../routing/backends/registry.js';
import { networkCondition, withCondition } from '../routing/condition.js';
import { RoutingLoop } from '../routing/loop.js';
import { backendsInUse, handoverNodes, routingHandover } from '../routing/handover.js';
import { hostFromNode } from '../routing/peers.js';
import type { ReconcileResult } from '../routing/reconcile.js';
import { checkBackendSupport } from '../routing/support.js';
import { isMac, vtepMacFrom } from '../routing/vtep.js';
import { getClusterNetwork, getObject, updateObject } from '../store/objects.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';
import {
  lastRotation,
  loadWireguardKey,
  recordRotation,
  rotateWireguardKey,
  type WireguardKey,
} from './wireguard-keys.js';

export const PERIOD_MS = 10_000;

export interface RoutingController extends Controller {
  /** BGP mode: the Nodes BGP's best routes lead to (this node first). */
  routeTo(nodes: Node[]): void;
  /**
   * Switches where routes come from while running. To BGP: the store's Nodes stay the source
   * until BGP has spoken. To the store: its Nodes at once (BGP is stopped after this resolves).
   */
  setSource(bgp: boolean): Promise<void>;
}

export function routingController(opts: { bgp?: boolean } = {}): RoutingController {
  let loop: RoutingLoop | undefined;
  let links: LinkWatch | undefined;
  let started = false;
  let bgp = opts.bgp ?? false;
  /** Read by the loop's snapshot: the Nodes to route to. */
  let routeNodes = (): Node[] => [];
  /** What BGP last said; undefined until it has spoken (store mode: unused). */
  let learned: Node[] | undefined;
  /** Asks for a reconcile; resolves once the loop has nothing left to do. */
  const reconcile = async (reason: string): Promise<void> => {
    loop?.trigger(reason);
    await loop?.idle();
  };
  const startOnce = (): void => {
    if (started || !loop || (bgp && !learned)) return;
    started = true;
    loop.start();
  };
  return {
    name: 'routing',
    routeTo(nodes) {
      learned = nodes;
      if (started) loop?.trigger('bgp');
      else startOnce();
    },
    async setSource(useBgp) {
      if (useBgp === bgp) return;
      bgp = useBgp;
      learned = undefined;
      if (started) await reconcile(`routing source ${useBgp ? 'bgp' : 'store'}`);
    },
    async start(ctx) {
      const { options, store, log, health } = ctx;
      const self = options.nodeName;
      const override = options.overrides.backend;
      const backendOf = (spec: ClusterNetwork['spec']): string => override ?? spec.backend;
      // A host's own settings from a staged rollout win over the cluster-wide ones.
      const initial = effectiveNetwork(
        await getClusterNetwork(store),
        await getObject(store, 'Node', undefined, self),
      );
      let backend = backendOf(initial);
      let underlayMTU = initial.mtu;
      let encryption = initial.encryption;
      let autoTunnel = initial.autoTunnel;
      // Refuse up front what this agent cannot do: an unknown name, a missing kernel module.
      await checkBackendSupport(
        backendDriver(backend, override ? '--backend' : 'ClusterNetwork backend'),
        kernelFeatures,
        autoTunnel,
      );
      const vtepMac = loadVtepMac(options.stateDir);
      let wgKey = loadWireguardKey(options.stateDir);
      // The kernel's WireGuard where it has one, wireguard-go otherwise: configured alike.
      const wgUserspace = !(await kernelFeatures.probeWireguard()).ok;
      const published = (): Record<string, string> => ({
        [ANNOTATION_VTEP_MAC]: vtepMac,
        [ANNOTATION_WIREGUARD_KEY]: wgKey.publicKey,
      });
      const metrics = routingMetrics(ctx);

      const nodes = ctx.informers.informer('Node');
      const networks = ctx.informers.informer('ClusterNetwork');
      const receivingBackends = (): string[] =>
        backendsInUse(
          networks.cache.get('default')?.spec.backend ?? DEFAULT_CLUSTER_NETWORK.backend,
          [...nodes.cache.values()],
        );
      /** What a rollout has hosts run apart (backends, routing sources), as last reconciled. */
      let lastHandover = '';
      const handoverChanged = (): boolean => {
        const now = JSON.stringify([
          receivingBackends(),
          routingHandover([...nodes.cache.values()]),
        ]);
        if (now === lastHandover) return false;
        lastHandover = now;
        return true;
      };
      routeNodes = () => {
        const stored = [...nodes.cache.values()];
        if (!bgp || !learned) return stored;
        return routingHandover(stored) ? handoverNodes(learned, stored) : learned;
      };
      const nodeChanged = (c: Change<Node>): Promise<void> | undefined => {
        // Our Node may be (re)created by the node controller after we started.
        const own = c.name === self && c.type !== 'deleted';
        const rotated = own && rotateIfAsked(options.stateDir, c.object);
        if (rotated) {
          wgKey = rotated;
          log.info({ node: self, publicKey: wgKey.publicKey }, 'WireGuard key rotated');
        }
        const publishing =
          own && !annotated(c.object, published())
            ? publishAnnotations(ctx, published())
            : undefined;
        if (rotated && started) {
          return Promise.all([publishing, reconcile('wireguard key rotated')]).then(
            () => undefined,
          );
        }
        // A rollout starting or ending changes which tunnels stay up and where routes come from.
        if (started && handoverChanged()) {
          return Promise.all([publishing, reconcile('rollout handover')]).then(() => undefined);
        }
        // BGP hands over its own view of the Nodes (the store's only during a handover).
        if (bgp && learned && !routingHandover([...nodes.cache.values()])) return publishing;
        const before = c.old && JSON.stringify(hostFromNode(c.old));
        const after = c.type === 'deleted' ? undefined : JSON.stringify(hostFromNode(c.object));
        if (before === after) return publishing;
        return Promise.all([publishing, reconcile(`node ${c.name} ${c.type}`)]).then(
          () => undefined,
        );
      };
      /** Reconciles when the settings this host runs changed (cluster-wide or its own). */
      const settingsChanged = (spec: ClusterNetwork['spec']): Promise<void> | undefined => {
        const next = backendOf(spec);
        const reasons: string[] = [];
        if (next !== backend) {
          log.info({ from: backend, to: next }, 'backend changed');
          reasons.push('backend');
        }
        if (spec.mtu !== underlayMTU) {
          log.info({ from: underlayMTU, to: spec.mtu }, 'underlay MTU changed');
          reasons.push('mtu');
        }
        if (spec.encryption !== encryption) {
          log.info(
            { from: encryption ?? 'none', to: spec.encryption ?? 'none' },
            'encryption changed',
          );
          reasons.push('encryption');
        }
        if (spec.autoTunnel !== autoTunnel) {
          log.info(
            { from: autoTunnel ?? 'vxlan', to: spec.autoTunnel ?? 'vxlan' },
            'auto tunnel changed',
          );
          reasons.push('autoTunnel');
        }
        backend = next;
        underlayMTU = spec.mtu;
        encryption = spec.encryption;
        autoTunnel = spec.autoTunnel;
        return started && reasons.length > 0 ? reconcile(reasons.join(' ')) : undefined;
      };
      networks.addHandler((c) => {
        if (c.object.metadata.name !== 'default') return undefined;
        return settingsChanged(
          effectiveNetwork(c.type === 'deleted' ? undefined : c.object.spec, nodes.cache.get(self)),
        );
      });
      nodes.addHandler((c) => {
        // This host's own settings (a rollout step) arrive on its Node.
        const settling =
          c.name === self && c.type !== 'deleted'
            ? settingsChanged(effectiveNetwork(networks.cache.get('default')?.spec, c.object))
            : undefined;
        const handled = nodeChanged(c);
        return settling ? Promise.all([settling, handled]).then(() => undefined) : handled;
      });
      await nodes.synced;
      await publishAnnotations(ctx, published());

      let lastCondition = '';
      loop = new RoutingLoop({
        selfName: self,
        kernel: routingKernel(undefined, {
          socketDir: options.wireguardSocketDir,
          logFile: join(options.stateDir, 'wireguard-go.log'),
        }),
        features: kernelFeatures,
        ipipDatapath: { sync: (dev, tunnels) => syncIpipBpf(dev, tunnels) },
        periodMs: PERIOD_MS,
        vtepMac,
        log,
        snapshot: () => ({
          nodes: routeNodes(),
          backend,
          underlayMTU,
          encryption,
          autoTunnel,
          wireguard: { ...wgKey, userspace: wgUserspace },
          receiveFrom: receivingBackends(),
        }),
        onResult: (result, _reason, seconds) => {
          metrics.observe(result, seconds);
          if (result instanceof Error) {
            health.setError('routing', result.message);
            return;
          }
          health.setError('routing', undefined);
          health.setReady('routing', true);
          const condition = JSON.stringify(networkCondition(result.problems));
          // With backend cloud the route controller owns NetworkUnavailable, as in Kubernetes.
          if (condition !== lastCondition && backend !== 'cloud') {
            lastCondition = condition;
            // Said once per change (not every resync): the peers this backend cannot reach.
            if (result.problems.length > 0) {
              log.warn(
                {
                  backend,
                  peers: result.problems.map((p) => p.peer),
                  advice: backendAdvice(backend),
                },
                `cannot route to ${result.problems.map((p) => `${p.peer} (${p.reason})`).join('; ')}`,
              );
            }
            void publishCondition(ctx, result).catch((err) =>
              log.warn({ err: errorMessage(err) }, 'could not update the Node condition'),
            );
          }
        },
      });
      startOnce();
      // A link back up (the underlay's carrier, a NIC reset) gets its routes back at once: the
      // kernel removed them when it went down. Pod veths, podnet's and other plugins', come and go
      // with pods: not watched.
      links = watchLinksUp(
        (ifname) => {
          if (started) loop?.trigger(`link ${ifname} up`, true);
        },
        comesAndGoesWithPods,
        (reason) => log.warn({ reason }, 'link watch restarting'),
      );
    },
    async stop() {
      links?.stop();
      await loop?.stop();
    },
  };
}

/** This node's VTEP MAC: the one in the state directory, or a new one kept there. */
function loadVtepMac(stateDir: string): string {
  const file = join(stateDir, 'vtep-mac');
  if (existsSync(file)) {
    const mac = readFileSync(file, 'utf8').trim().toLowerCase();
    if (isMac(mac)) return mac;
  }
  const mac = vtepMacFrom(randomBytes(6));
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(file, `${mac}\n`);
  return mac;
}

/** A new key when the Node asks for a rotation this node has not acted on yet. */
function rotateIfAsked(stateDir: string, node: Node): WireguardKey | undefined {
  const request = node.metadata.annotations?.[ANNOTATION_WIREGUARD_ROTATE];
  if (!request || request === lastRotation(stateDir)) return undefined;
  const key = rotateWireguardKey(stateDir);
  recordRotation(stateDir, request);
  return key;
}

function annotated(node: Node, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => node.metadata.annotations?.[k] === v);
}

/**
 * Writes what peers need of this node (VTEP MAC, WireGuard public key) where the Node lacks
 * it or says otherwise (compare-and-swap).
 */
async function publishAnnotations(
  ctx: AgentContext,
  wanted: Record<string, string>,
): Promise<void> {
  try {
    await updateObject(ctx.store, 'Node', undefined, ctx.options.nodeName, (node: Node) => {
      if (annotated(node, wanted)) return undefined;
      node.metadata.annotations = { ...node.metadata.annotations, ...wanted };
      return node;
    });
  } catch (err) {
    ctx.log.warn({ err: errorMessage(err) }, 'could not publish the VTEP MAC and WireGuard key');
  }
}

async function publishCondition(ctx: AgentContext, result: ReconcileResult): Promise<void> {
  const wanted = networkCondition(result.problems);
  await updateObject(ctx.store, 'Node', undefined, ctx.options.nodeName, (node: Node) =>
    withCondition(node, wanted, new Date().toISOString().replace(/\.\d+Z$/, 'Z')),
  );
}

function routingMetrics(ctx: AgentContext) {
  const registers = [ctx.metrics];
  const reconciles = new Counter({
    name: 'podnet_routing_reconciles_total',
    help: 'Routing reconciles, by result',
    labelNames: ['result'],
    registers,
  });
  const changes = new Counter({
    name: 'podnet_routing_kernel_changes_total',
    help: 'Kernel changes routing applied, by operation',
    labelNames: ['op'],
    registers,
  });
  const duration = new Histogram({
    name: 'podnet_routing_reconcile_seconds',
    help: 'Time of one routing reconcile (read, diff, apply)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const unreachable = new Gauge({
    name: 'podnet_routing_unreachable_peers',
    help: 'Peers this host cannot route to',
    registers,
  });
  return {
    observe(result: ReconcileResult | Error, seconds: number): void {
      duration.observe(seconds);
      if (result instanceof Error) {
        reconciles.inc({ result: 'error' });
        return;
      }
      reconciles.inc({ result: 'ok' });
      for (const c of result.changes) changes.inc({ op: c.op });
      unreachable.set(result.problems.length);
    },
  };
}
