// `podnet bgp ...`: a standalone BGP speaker and its status.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
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
    .description("a speaker's sessions (peer, AS, state, uptime, prefixes)")
    .requiredOption('--socket <path>', "the speaker's status socket")
    .option('-o, --output <format>', 'json or wide')
    .option('--routes', 'also list the Loc-RIB')
    .action(async (opts: { socket: string; output?: string; routes?: boolean }) => {
      const { fetchStatus } = await import('../bgp/daemon.js');
      const { formatSessions, formatRoutes } = await import('../bgp/format.js');
      if (opts.output && opts.output !== 'json' && opts.output !== 'wide') {
        throw new UsageError(`--output ${opts.output}: use json or wide`);
      }
      const status = await fetchStatus(opts.socket, Boolean(opts.routes) || opts.output === 'json');
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatSessions(status.peers, opts.output === 'wide'));
      if (opts.routes) process.stdout.write(`\n${formatRoutes(status.routes)}`);
    });
}
