// `podnet serve-echo --port P`: the built-in test workload (see src/lab/echo.ts).
import type { Command } from 'commander';
import { parseCount } from './context.js';

export function registerServeEcho(program: Command): void {
  program
    .command('serve-echo')
    .description('test workload: HTTP GET answers {pod,namespace,ip,node} as JSON; UDP is echoed')
    .option('--port <port>', 'TCP and UDP port', parseCount('--port', 1, 65535), 8080)
    .option('--address <ip>', 'address to listen on', '0.0.0.0')
    .action(async (opts) => {
      const [{ startEcho, identityFromEnv }, { createLogger }] = await Promise.all([
        import('../lab/echo.js'),
        import('../util/log.js'),
      ]);
      const id = identityFromEnv(process.env);
      const server = await startEcho(id, opts.port, opts.address);
      const log = createLogger('serve-echo', { pod: id.pod, namespace: id.namespace });
      log.info({ port: opts.port }, 'serving HTTP and UDP echo');
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await server.close();
    });
}
