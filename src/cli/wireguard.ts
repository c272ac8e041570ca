// `podnet wireguard rotate --node N`: asks a node's agent for a new WireGuard key (through a
// Node annotation; the private key never leaves the node). Also what `plan` and `doctor` need
// to read a host's WireGuard device: its key and where its control socket is.
import { join } from 'node:path';
import type { Command } from 'commander';
import { ANNOTATION_WIREGUARD_KEY, ANNOTATION_WIREGUARD_ROTATE, type Node } from '../api/types.js';
import { probeWireguard } from '../kernel/features.js';
import type { WireguardRunOptions } from '../kernel/wireguard.js';
import { labStateDir, wireguardSocketDir } from '../lab/plan.js';
import type { WireguardSelf } from '../routing/desired.js';
import { listObjects, updateObject } from '../store/objects.js';
import { openStore } from '../store/open.js';
import { UsageError } from '../util/errors.js';
import { LABS_DIR, labFor, resolveStoreUrl } from './context.js';

/** The state directory of a node's agent: the lab host's, or a real host's default. */
function agentStateDir(lab: string | undefined, node: string): string {
  return lab ? join(labStateDir(LABS_DIR, lab), 'hosts', node) : '/var/lib/podnet';
}

/** A node's WireGuard key as its agent uses it, and how to reach its device with `wg`. */
export async function wireguardOf(
  lab: string | undefined,
  self: Node,
): Promise<{ wireguard?: WireguardSelf; run: WireguardRunOptions }> {
  const stateDir = agentStateDir(lab, self.metadata.name);
  const run = { socketDir: lab ? wireguardSocketDir(stateDir) : undefined };
  const publicKey = self.metadata.annotations?.[ANNOTATION_WIREGUARD_KEY];
  if (!publicKey) return { run };
  const userspace = !(await probeWireguard()).ok;
  return {
    wireguard: {
      publicKey,
      privateKeyFile: join(stateDir, 'wireguard-private-key'),
      userspace,
    },
    run,
  };
}

export function registerWireguard(program: Command): void {
  const wg = program.command('wireguard').description("the nodes' WireGuard keys");
  wg.command('rotate')
    .description(
      'give a node a new WireGuard key; peers pick it up from its Node, connections survive',
    )
    .requiredOption('--node <name>', 'the node whose key to replace')
    .action(async (opts: { node: string }, cmd: Command) => {
      const store = await openStore(resolveStoreUrl(cmd), { create: false });
      try {
        const { items } = await listObjects(store, 'Node');
        if (!items.some((n) => n.metadata.name === opts.node)) {
          const known = items.map((n) => n.metadata.name).join(', ') || 'none';
          throw new UsageError(`--node ${opts.node}: no such Node (known: ${known})`);
        }
        const request = new Date().toISOString();
        await updateObject(store, 'Node', undefined, opts.node, (node: Node) => {
          node.metadata.annotations = {
            ...node.metadata.annotations,
            [ANNOTATION_WIREGUARD_ROTATE]: request,
          };
          return node;
        });
        process.stderr.write(
          `asked ${opts.node}${labFor(cmd) ? ` (lab ${labFor(cmd)})` : ''} for a new WireGuard key\n`,
        );
      } finally {
        await store.close();
      }
    });
}
