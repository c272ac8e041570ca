// `podnet plan [--node NAME]`: what the routing reconciler would change on a host, as the
// commands a person would type. Reads the kernel, changes nothing. In a lab, --node picks the
// host namespace; on a real host it plans for this machine. With `routing: bgp` the peers are
// the routes the node's agent handed to its routing (the store does not hold them), each shown
// with where it came from.
import { describeDatapath } from '../routing/ebpf-maps.js';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ANNOTATION_VTEP_MAC, type ClusterNetwork, type Node } from '../api/types.js';
import { cloudPlacements, placementLines } from '../cloud/placements.js';
import { kernelFeatures } from '../kernel/features.js';
import { routingKernel } from '../kernel/routing-kernel.js';
import { offloadKernel } from '../kernel/link-features.js';
import { renderCommands } from '../kernel/routing-render.js';
import { backendDriver } from '../routing/backends/registry.js';
import { describeSettled, offloadCommands, reconcileOffloads } from '../routing/offloads.js';
import { backendsInUse } from '../routing/handover.js';
import { planHost } from '../routing/reconcile.js';
import { checkBackendSupport } from '../routing/support.js';
import { usesIpip } from '../routing/backends/auto.js';
import { getClusterNetwork, listObjects } from '../store/objects.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { UsageError } from '../util/errors.js';
import { labFor, requireRoot, resolveStoreUrl } from './context.js';
import { describeWireguard, wireguardStatus } from '../routing/wireguard-status.js';
import { wireguardOf } from './wireguard.js';
import { outputOption } from './output.js';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description(
      "print the kernel changes routing would make on a host (as 'ip' commands); changes nothing",
    )
    .option('--node <name>', 'the node to plan for (in a lab: its host namespace)')
    .option('--backend <backend>', 'plan for this backend instead of the ClusterNetwork one')
    .addOption(outputOption(['json']))
    .action(async (opts: { node?: string; backend?: string; output?: string }, cmd: Command) => {
      requireRoot('podnet plan');
      const lab = labFor(cmd);
      if (lab && !opts.node) {
        throw new UsageError(
          `--node is required in lab ${lab}: name the host to plan for (node-1, ...)`,
        );
      }
      const store = await openStore(resolveStoreUrl(cmd), { create: false });
      try {
        const spec = await getClusterNetwork(store);
        const backend = opts.backend ?? spec.backend;
        const plan = await planNode(store, {
          spec: { ...spec, backend: backend as typeof spec.backend },
          nodeName: opts.node ?? hostname(),
          lab,
          backendSource: opts.backend ? '--backend' : 'ClusterNetwork backend',
        });
        if (opts.output === 'json') {
          process.stdout.write(`${JSON.stringify(planJson(plan), null, 2)}\n`);
          return;
        }
        for (const line of planLines(plan)) process.stdout.write(`${line}\n`);
      } finally {
        await store.close();
      }
    });
}

export interface PlanTarget {
  /** The ClusterNetwork settings to plan for (the stored ones, or a proposed change). */
  spec: ClusterNetwork['spec'];
  nodeName: string;
  /** In a lab, the host is the namespace LAB-NODE; else this machine. */
  lab?: string;
  /** What named the backend, for the error when this kernel cannot carry it. */
  backendSource: string;
}

/** What routing would change on one host for `target.spec`, read from that host's kernel. */
export async function planNode(store: Store, target: PlanTarget) {
  const { spec, nodeName, lab } = target;
  const backend = spec.backend;
  const support = await checkBackendSupport(
    backendDriver(backend, target.backendSource),
    kernelFeatures,
    spec.autoTunnel,
  );
  const { items: storeNodes } = await listObjects(store, 'Node');
  const self = storeNodes.find((n) => n.metadata.name === nodeName);
  if (!self) {
    const known = storeNodes.map((n) => n.metadata.name).join(', ') || 'none';
    throw new UsageError(`--node ${nodeName}: no such Node (known: ${known})`);
  }
  const netns = lab ? `${lab}-${nodeName}` : undefined;
  const bgp = spec.routing === 'bgp' ? await bgpView(store, storeNodes, self, nodeName) : undefined;
  const nodes = bgp?.nodes ?? storeNodes;
  const vtepMac = self.metadata.annotations?.[ANNOTATION_VTEP_MAC] ?? '';
  const ipip = usesIpip(backend, spec.autoTunnel);
  if (!vtepMac && backend !== 'host-gw' && !ipip && backend !== 'wireguard') {
    throw new UsageError(
      `node ${nodeName} has not published its VTEP MAC (${ANNOTATION_VTEP_MAC}) yet: start its agent first`,
    );
  }
  const wg = await wireguardOf(lab, self);
  const plan = await planHost(
    {
      nodes,
      selfName: nodeName,
      backend,
      vtepMac,
      underlayMTU: spec.mtu,
      encryption: spec.encryption,
      wireguard: wg.wireguard,
      ipipBpf: support.ipipBpf,
      autoTunnel: spec.autoTunnel,
      receiveFrom: backendsInUse(backend, storeNodes),
    },
    routingKernel(netns, wg.run),
  );
  const offloads = await reconcileOffloads(offloadKernel(netns), plan.view.underlay.address, {
    apply: false,
  });
  return {
    nodeName,
    lab,
    spec,
    backend,
    ipip,
    ipipBpf: support.ipipBpf,
    plan,
    bgp,
    offloads,
    commands: [...renderCommands(plan.changes), ...offloadCommands(offloads?.changes ?? [])],
    wireguard: wireguardStatus(plan.view.actual.links, nodes, Date.now() / 1000),
    cloud: backend === 'cloud' ? cloudPlacements(storeNodes) : undefined,
  };
}

export type NodePlan = Awaited<ReturnType<typeof planNode>>;

function planJson(p: NodePlan) {
  return {
    node: p.nodeName,
    backend: p.backend,
    autoTunnel: p.backend === 'auto' ? (p.spec.autoTunnel ?? 'vxlan') : undefined,
    ipipImplementation: p.ipip ? (p.ipipBpf ? 'bpf' : 'kernel') : undefined,
    ipipTunnels: p.plan.desired.ipipTunnels,
    routing: p.spec.routing,
    datapath: p.spec.datapath ?? 'kernel',
    learned: p.bgp?.origins,
    cloud: p.cloud,
    commands: p.commands,
    changes: p.plan.changes,
    offloads: p.offloads,
    problems: p.plan.problems,
    wireguard: p.wireguard,
  };
}

/** The plan as a person reads it: a header, what it knows in comments, then the commands. */
export function planLines(p: NodePlan): string[] {
  const { commands, plan } = p;
  const where = p.lab ? ` (namespace ${p.lab}-${p.nodeName})` : '';
  const out = [
    `# ${p.nodeName}${where}, backend ${describeBackend(p)}: ${commands.length === 0 ? 'nothing to change' : `${commands.length} command(s)`}`,
  ];
  if (p.ipip) out.push(`# IP-in-IP: ${describeIpip(p.ipipBpf, plan)}`);
  if (p.spec.datapath === 'ebpf') out.push(`# datapath: ${describeDatapath(p.spec)}`);
  for (const o of p.bgp?.origins ?? []) out.push(`# ${o.prefix}: ${o.origin}`);
  for (const line of p.wireguard ? describeWireguard(p.wireguard) : []) out.push(`# ${line}`);
  out.push(...placementLines(p.cloud ?? []));
  if (p.offloads?.settled.length) {
    out.push(`# offloads in place: ${describeSettled(p.offloads.settled)}`);
  }
  for (const problem of plan.problems) {
    out.push(`# cannot route to ${problem.peer}: ${problem.reason}`);
  }
  out.push(...commands);
  return out;
}

/** The backend, and for auto a tunnel other than its default VXLAN to peers not on-link. */
function describeBackend(p: NodePlan): string {
  return p.backend === 'auto' && p.spec.autoTunnel === 'ipip'
    ? 'auto (ipip where not on-link)'
    : p.backend;
}

function describeIpip(bpf: boolean, plan: { view: { underlay: { dev: string } } }): string {
  return bpf
    ? `tc BPF programs on ${plan.view.underlay.dev} (the kernel has no ipip device)`
    : `the kernel's ipip device`;
}

/**
 * The peers as BGP made them: the routes the node's agent last handed to its routing (published
 * with its sessions), each with where it came from.
 */
async function bgpView(
  store: Store,
  storeNodes: Node[],
  self: Node,
  nodeName: string,
): Promise<{ nodes: Node[]; origins: { prefix: string; origin: string }[] }> {
  const [{ routedNodes }, { bgpRouteOrigin, learnedRoutes }, { readStatuses }] = await Promise.all([
    import('../bgp/cluster.js'),
    import('../diagnose/origin.js'),
    import('../bgp/status-store.js'),
  ]);
  const status = (await readStatuses(store)).find((s) => s.node === nodeName);
  const learned = learnedRoutes(status);
  if (!learned) {
    throw new Error(
      `node ${nodeName}'s agent has published no BGP routes yet (after a start it waits for every peer's End-of-RIB): podnet get bgp -o wide`,
    );
  }
  return {
    nodes: routedNodes(self, storeNodes, learned),
    origins: [...learned].map(([prefix, { nextHop }]) => ({
      prefix,
      origin: bgpRouteOrigin(nextHop, storeNodes, status),
    })),
  };
}
