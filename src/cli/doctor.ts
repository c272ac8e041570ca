// `podnet doctor [--node NAME]`: checks a host for what breaks pod networks in practice and
// prints one pass/fail line per check, with the command that fixes each failure. Exit 1 when
// any check fails. In a lab, --node picks the host namespace; on a real host it checks itself.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { ClusterNetwork, Node } from '../api/types.js';
import type { NodeBgpStatus } from '../bgp/status-store.js';
import type { DoctorInput, RoutingUnknown, RoutingView, Verdict } from '../diagnose/doctor.js';
import { effectiveNetwork } from '../api/node-settings.js';
import { backendsInUse, handoverNodes, routingHandover } from '../routing/handover.js';
import type { Store } from '../store/store.js';
import type { OffloadPlan } from '../routing/offloads.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { labFor, requireRoot, resolveStoreUrl } from './context.js';
import { wireguardStatus } from '../routing/wireguard-status.js';
import { wireguardOf } from './wireguard.js';
import { outputOption } from './output.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check a host for what breaks pod networks, each failure with its fix')
    .option('--node <name>', 'the node to check (in a lab: its host namespace)')
    .addOption(outputOption(['json']))
    .action(async (opts: { node?: string; output?: string }, cmd: Command) => {
      requireRoot('podnet doctor');
      const lab = labFor(cmd);
      if (lab && !opts.node) {
        throw new UsageError(
          `--node is required in lab ${lab}: name the host to check (node-1, ...)`,
        );
      }
      const nodeName = opts.node ?? hostname();
      const { openStore } = await import('../store/open.js');
      const store = await openStore(resolveStoreUrl(cmd), { create: false });
      try {
        const verdicts = await hostVerdicts(store, nodeName, lab);
        const failed = verdicts.filter((v) => !v.ok);
        if (opts.output === 'json') {
          process.stdout.write(`${JSON.stringify({ node: nodeName, verdicts }, null, 2)}\n`);
        } else {
          for (const v of verdicts) {
            process.stdout.write(`${v.ok ? 'pass' : 'FAIL'}  ${v.check.padEnd(16)} ${v.detail}\n`);
            if (v.fix) process.stdout.write(`      ${''.padEnd(16)} fix: ${v.fix}\n`);
          }
          process.stdout.write(
            failed.length === 0
              ? `${nodeName}: every check passed\n`
              : `${nodeName}: ${failed.length} check(s) failed\n`,
          );
        }
        if (failed.length > 0) process.exitCode = 1;
      } finally {
        await store.close();
      }
    });
}

/**
 * The doctor's verdicts on one host, judged against the settings that host should run (its own
 * during a staged rollout, which also calls this).
 */
export async function hostVerdicts(
  store: Store,
  nodeName: string,
  lab: string | undefined,
): Promise<Verdict[]> {
  const [{ diagnoseHost }, facts, objects] = await Promise.all([
    import('../diagnose/doctor.js'),
    import('../kernel/host-facts.js'),
    import('../store/objects.js'),
  ]);
  const [cluster, { items: nodes }, bgpStatuses, { items: leases }] = await Promise.all([
    objects.getClusterNetwork(store),
    objects.listObjects(store, 'Node'),
    import('../bgp/status-store.js').then((m) => m.readStatuses(store)),
    objects.listObjects(store, 'Lease', 'kube-node-lease'),
  ]);
  const node = nodes.find((n) => n.metadata.name === nodeName);
  if (!node) {
    const known = nodes.map((n) => n.metadata.name).join(', ') || 'none';
    throw new UsageError(`--node ${nodeName}: no such Node (known: ${known})`);
  }
  const network = effectiveNetwork(cluster, node);
  const netns = lab ? `${lab}-${nodeName}` : undefined;
  const host = await facts.readHostFacts(netns);
  const bgp = bgpStatuses.find((b) => b.node === nodeName);
  return diagnoseHost({
    host,
    nodeName,
    nodes,
    network,
    kernelConfig: facts.readKernelConfig(),
    bgp,
    routing: await routingView({
      nodes,
      nodeName,
      network,
      bgp,
      netns,
      lab,
      receiveFrom: backendsInUse(cluster.backend, nodes),
    }),
    offloads: await offloadsView(netns, node),
    ...(await datapathView(netns)),
    leases,
    ...(lab ? { restartAgent: `podnet lab repair --name ${lab}` } : {}),
  });
}

/**
 * What the agent's routing reconciler would change on this host now: the same planning it
 * runs, over the store's Nodes — or, with BGP, over the routes the agent last handed to its
 * routing (published with its sessions), which the store does not hold.
 */
async function routingView(c: {
  nodes: Node[];
  nodeName: string;
  network: ClusterNetwork['spec'];
  bgp: NodeBgpStatus | undefined;
  netns?: string;
  lab?: string;
  /** Backends other hosts run during a rollout: their tunnels stay up on this host too. */
  receiveFrom: string[];
}): Promise<RoutingView | RoutingUnknown> {
  const [{ planHost }, { PERIOD_MS }, { routedNodes }, { learnedRoutes }, types] =
    await Promise.all([
      import('../routing/reconcile.js'),
      import('../agent/routing.js'),
      import('../bgp/cluster.js'),
      import('../diagnose/origin.js'),
      import('../api/types.js'),
    ]);
  const { routingKernel } = await import('../kernel/routing-kernel.js');
  const self = c.nodes.find((n) => n.metadata.name === c.nodeName)!;
  let nodes = c.nodes;
  // During a rollout of the routing source, peers BGP has not learnt are routed from the store.
  const handover = routingHandover(c.nodes);
  if (c.network.routing === 'bgp') {
    const learned = learnedRoutes(c.bgp);
    if (!learned && !handover) {
      return {
        error: `its agent has handed no BGP routes to routing yet (after a start it waits for every peer's End-of-RIB)`,
        fix: `podnet get bgp -o wide (are ${c.nodeName}'s sessions Established?), then read its agent's log`,
      };
    }
    const fromBgp = learned ? routedNodes(self, c.nodes, learned) : [self];
    nodes = handover ? handoverNodes(fromBgp, c.nodes) : fromBgp;
  }
  try {
    const wg = await wireguardOf(c.lab, self);
    const plan = await planHost(
      {
        nodes,
        selfName: c.nodeName,
        backend: c.network.backend,
        vtepMac: self.metadata.annotations?.[types.ANNOTATION_VTEP_MAC] ?? '',
        underlayMTU: c.network.mtu,
        encryption: c.network.encryption,
        wireguard: wg.wireguard,
        receiveFrom: c.receiveFrom,
      },
      routingKernel(c.netns, wg.run),
    );
    return {
      changes: plan.changes,
      wireguard: wireguardStatus(plan.view.actual.links, c.nodes, Date.now() / 1000),
      looseRpFilter: plan.desired.sysctls
        .filter((s) => s.looseRpFilter)
        .map((s) => s.key.slice('net.ipv4.conf.'.length, -'.rp_filter'.length)),
      periodSeconds: PERIOD_MS / 1000,
    };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

/** The offloads the agent keeps on this host, against what its links have now. */
async function offloadsView(
  netns: string | undefined,
  self: Node,
): Promise<OffloadPlan | RoutingUnknown | undefined> {
  const [{ reconcileOffloads }, { offloadKernel }, { hostFromNode }] = await Promise.all([
    import('../routing/offloads.js'),
    import('../kernel/link-features.js'),
    import('../routing/peers.js'),
  ]);
  const ip = hostFromNode(self)?.ip;
  if (!ip) return undefined;
  try {
    return await reconcileOffloads(offloadKernel(netns), ip, { apply: false });
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

/**
 * The devices running the eBPF data path's programs, and how many translated connections they
 * still carry (a switch to `kernel` keeps them attached, draining, while any is open).
 */
async function datapathView(
  netns: string | undefined,
): Promise<Pick<DoctorInput, 'datapathDevices' | 'datapathTranslationsOpen'>> {
  const [{ datapathDevices, hostTranslations }, { openTranslations }] = await Promise.all([
    import('../kernel/bpf-datapath.js'),
    import('../routing/ebpf-maps.js'),
  ]);
  try {
    const devices = await datapathDevices(netns);
    if (devices.pod.length + devices.underlay.length === 0) return { datapathDevices: devices };
    const { entries, nowNs } = await hostTranslations(netns);
    return { datapathDevices: devices, datapathTranslationsOpen: openTranslations(entries, nowNs) };
  } catch (err) {
    return { datapathDevices: { error: errorMessage(err) } };
  }
}
