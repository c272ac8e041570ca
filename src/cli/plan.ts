// `podnet plan [--node NAME]`: what the routing reconciler would change on a host, as the
// commands a person would type. Reads the kernel, changes nothing. In a lab, --node picks the
// host namespace; on a real host it plans for this machine.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { ANNOTATION_VTEP_MAC } from '../api/types.js';
import { kernelFeatures } from '../kernel/features.js';
import { routingKernel } from '../kernel/routing-kernel.js';
import { renderCommands } from '../kernel/routing-render.js';
import { backendDriver } from '../routing/backends/registry.js';
import { planHost } from '../routing/reconcile.js';
import { checkBackendSupport } from '../routing/support.js';
import { getClusterNetwork, listObjects } from '../store/objects.js';
import { openStore } from '../store/open.js';
import { UsageError } from '../util/errors.js';
import { labFor, requireRoot, resolveStoreUrl } from './context.js';

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description(
      "print the kernel changes routing would make on a host (as 'ip' commands); changes nothing",
    )
    .option('--node <name>', 'the node to plan for (in a lab: its host namespace)')
    .option('--backend <backend>', 'plan for this backend instead of the ClusterNetwork one')
    .option('-o, --output <format>', 'json for one JSON document')
    .action(async (opts: { node?: string; backend?: string; output?: string }, cmd: Command) => {
      requireRoot('podnet plan');
      if (opts.output !== undefined && opts.output !== 'json') {
        throw new UsageError(`-o ${opts.output}: unknown output format (valid: json)`);
      }
      const lab = labFor(cmd);
      if (lab && !opts.node) {
        throw new UsageError(
          `--node is required in lab ${lab}: name the host to plan for (node-1, ...)`,
        );
      }
      const nodeName = opts.node ?? hostname();
      const store = await openStore(resolveStoreUrl(cmd));
      try {
        const spec = await getClusterNetwork(store);
        if (spec.routing === 'bgp') {
          // The routes would be what BGP learns, which the store does not hold.
          throw new UsageError(
            'ClusterNetwork routing is bgp: routes follow the BGP sessions, not the store; see podnet get bgp and ip route show proto 80',
          );
        }
        const backend = opts.backend ?? spec.backend;
        await checkBackendSupport(
          backendDriver(backend, opts.backend ? '--backend' : 'ClusterNetwork backend'),
          kernelFeatures,
        );
        const { items: nodes } = await listObjects(store, 'Node');
        const self = nodes.find((n) => n.metadata.name === nodeName);
        if (!self) {
          const known = nodes.map((n) => n.metadata.name).join(', ') || 'none';
          throw new UsageError(`--node ${nodeName}: no such Node (known: ${known})`);
        }
        const vtepMac = self.metadata.annotations?.[ANNOTATION_VTEP_MAC] ?? '';
        if (!vtepMac && backend !== 'host-gw' && backend !== 'ipip') {
          throw new UsageError(
            `node ${nodeName} has not published its VTEP MAC (${ANNOTATION_VTEP_MAC}) yet: start its agent first`,
          );
        }
        const plan = await planHost(
          { nodes, selfName: nodeName, backend, vtepMac, underlayMTU: spec.mtu },
          routingKernel(lab ? `${lab}-${nodeName}` : undefined),
        );
        const commands = renderCommands(plan.changes);
        if (opts.output === 'json') {
          process.stdout.write(
            `${JSON.stringify({ node: nodeName, backend, commands, changes: plan.changes, problems: plan.problems }, null, 2)}\n`,
          );
          return;
        }
        const where = lab ? ` (namespace ${lab}-${nodeName})` : '';
        process.stdout.write(
          `# ${nodeName}${where}, backend ${backend}: ${commands.length === 0 ? 'nothing to change' : `${commands.length} command(s)`}\n`,
        );
        for (const p of plan.problems)
          process.stdout.write(`# cannot route to ${p.peer}: ${p.reason}\n`);
        for (const line of commands) process.stdout.write(`${line}\n`);
      } finally {
        await store.close();
      }
    });
}
