// `podnet plan [--node NAME]`: what the routing reconciler would change on a host, as the
// commands a person would type. Reads the kernel, changes nothing. In a lab, --node picks the
// host namespace; on a real host it plans for this machine. With `routing: bgp` the peers are
// the routes the node's agent handed to its routing (the store does not hold them), each shown
// with where it came from.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ANNOTATION_VTEP_MAC, type Node } from '../api/types.js';
import { cloudPlacements, placementLines } from '../cloud/placements.js';
import { kernelFeatures } from '../kernel/features.js';
import { routingKernel } from '../kernel/routing-kernel.js';
import { offloadKernel } from '../kernel/link-features.js';
import { renderCommands } from '../kernel/routing-render.js';
import { backendDriver } from '../routing/backends/registry.js';
import { describeSettled, offloadCommands, reconcileOffloads } from '../routing/offloads.js';
import { planHost } from '../routing/reconcile.js';
import { checkBackendSupport } from '../routing/support.js';
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
      const nodeName = opts.node ?? hostname();
      const store = await openStore(resolveStoreUrl(cmd), { create: false });
      try {
        const spec = await getClusterNetwork(store);
        const backend = opts.backend ?? spec.backend;
        const support = await checkBackendSupport(
          backendDriver(backend, opts.backend ? '--backend' : 'ClusterNetwork backend'),
          kernelFeatures,
        );
        const { items: storeNodes } = await listObjects(store, 'Node');
        const self = storeNodes.find((n) => n.metadata.name === nodeName);
        if (!self) {
          const known = storeNodes.map((n) => n.metadata.name).join(', ') || 'none';
          throw new UsageError(`--node ${nodeName}: no such Node (known: ${known})`);
        }
        const netns = lab ? `${lab}-${nodeName}` : undefined;
        const bgp =
          spec.routing === 'bgp' ? await bgpView(store, storeNodes, self, nodeName) : undefined;
        const nodes = bgp?.nodes ?? storeNodes;
        const vtepMac = self.metadata.annotations?.[ANNOTATION_VTEP_MAC] ?? '';
        if (!vtepMac && backend !== 'host-gw' && backend !== 'ipip' && backend !== 'wireguard') {
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
          },
          routingKernel(netns, wg.run),
        );
        const offloads = await reconcileOffloads(offloadKernel(netns), plan.view.underlay.address, {
          apply: false,
        });
        const commands = [
          ...renderCommands(plan.changes),
          ...offloadCommands(offloads?.changes ?? []),
        ];
        const wireguard = wireguardStatus(plan.view.actual.links, nodes, Date.now() / 1000);
        const cloud = backend === 'cloud' ? cloudPlacements(storeNodes) : undefined;
        if (opts.output === 'json') {
          process.stdout.write(
            `${JSON.stringify({ node: nodeName, backend, ipipImplementation: ipipImplementation(support.ipipBpf, backend), ipipTunnels: plan.desired.ipipTunnels, routing: spec.routing, learned: bgp?.origins, cloud, commands, changes: plan.changes, offloads, problems: plan.problems, wireguard }, null, 2)}\n`,
          );
          return;
        }
        const where = lab ? ` (namespace ${lab}-${nodeName})` : '';
        process.stdout.write(
          `# ${nodeName}${where}, backend ${backend}: ${commands.length === 0 ? 'nothing to change' : `${commands.length} command(s)`}\n`,
        );
        if (backend === 'ipip') {
          process.stdout.write(`# IP-in-IP: ${describeIpip(support.ipipBpf, plan)}\n`);
        }
        for (const o of bgp?.origins ?? []) process.stdout.write(`# ${o.prefix}: ${o.origin}\n`);
        for (const line of wireguard ? describeWireguard(wireguard) : []) {
          process.stdout.write(`# ${line}\n`);
        }
        for (const line of placementLines(cloud ?? [])) process.stdout.write(`${line}\n`);
        if (offloads?.settled.length) {
          process.stdout.write(`# offloads in place: ${describeSettled(offloads.settled)}\n`);
        }
        for (const p of plan.problems)
          process.stdout.write(`# cannot route to ${p.peer}: ${p.reason}\n`);
        for (const line of commands) process.stdout.write(`${line}\n`);
      } finally {
        await store.close();
      }
    });
}

/** Which implementation carries backend ipip: the kernel's device or podnet's tc BPF programs. */
function ipipImplementation(bpf: boolean, backend: string): string | undefined {
  if (backend !== 'ipip') return undefined;
  return bpf ? 'bpf' : 'kernel';
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
