// `podnet bgp ...`: a standalone BGP speaker and its status.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { listOf } from '../api/list.js';
import type { Store } from '../store/store.js';
import { UsageError } from '../util/errors.js';

export function registerBgp(program: Command): void {
  const bgp = program.command('bgp').description("podnet's BGP speaker");
  bgp
    .command('speaker')
    .description('run a BGP speaker from a config file (YAML or JSON) until SIGTERM')
    .requiredOption('--config <file>', 'speaker configuration')
    .option('--status-socket <path>', 'serve status as JSON on this unix socket')
    .action(async (opts: { config: string; statusSocket?: string }) => {
      const { parseSpeakerConfig } = await import('../bgp/config.js');
      const { runSpeaker } = await import('../bgp/daemon.js');
      const { createLogger } = await import('../util/log.js');
      let text: string;
      try {
        text = readFileSync(opts.config, 'utf8');
      } catch (err) {
        throw new UsageError(`--config ${opts.config}: ${(err as NodeJS.ErrnoException).code}`);
      }
      const config = parseSpeakerConfig(text, opts.config);
      await runSpeaker(config, opts.statusSocket, createLogger('podnet-bgp'));
    });
  bgp
    .command('status')
    .description(
      "BGP sessions (peer, AS, state, uptime, prefixes): every node's from the cluster store, or one speaker's with --socket",
    )
    .option('--socket <path>', "a standalone speaker's status socket")
    .option('-o, --output <format>', 'json or wide')
    .option('--routes', 'also list the Loc-RIB (with --socket)')
    .action(async (opts: { socket?: string; output?: string; routes?: boolean }, cmd: Command) => {
      if (opts.output && opts.output !== 'json' && opts.output !== 'wide') {
        throw new UsageError(`--output ${opts.output}: use json or wide`);
      }
      if (!opts.socket) {
        const { resolveStoreUrl } = await import('./context.js');
        const { openStore } = await import('../store/open.js');
        const store = await openStore(resolveStoreUrl(cmd), { create: false });
        try {
          await printClusterSessions(store, opts.output);
        } finally {
          await store.close();
        }
        return;
      }
      const { fetchStatus } = await import('../bgp/daemon.js');
      const status = await fetchStatus(opts.socket, Boolean(opts.routes) || opts.output === 'json');
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      const { formatSessions, formatRoutes } = await import('../bgp/format.js');
      process.stdout.write(formatSessions(status.peers, opts.output === 'wide'));
      if (opts.routes) process.stdout.write(`\n${formatRoutes(status.routes)}`);
    });
}

/** Every node's sessions as published in the store (`podnet bgp status`, `podnet get bgp`). */
export async function printClusterSessions(
  store: Store,
  output: string | undefined,
): Promise<void> {
  const { formatSessions, uptimeAt } = await import('../bgp/format.js');
  const { readStatuses } = await import('../bgp/status-store.js');
  const now = Date.now();
  // Statuses are published when a session changes, not every second: uptime is as of now.
  const statuses = (await readStatuses(store)).map((s) => ({
    ...s,
    peers: s.peers.map((p) => ({ ...p, uptime: uptimeAt(p, now) })),
  }));
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(listOf(statuses), null, 2)}\n`);
    return;
  }
  if (statuses.length === 0) {
    process.stderr.write(
      'No BGP sessions: no node runs BGP (ClusterNetwork spec.routing is not bgp).\n',
    );
    return;
  }
  const rows = statuses.flatMap((s) => s.peers.map((p) => ({ node: s.node, peer: p })));
  process.stdout.write(
    formatSessions(
      rows.map((r) => r.peer),
      output === 'wide',
      rows.map((r) => r.node),
      now,
    ),
  );
}
