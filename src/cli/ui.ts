// `podnet ui [--listen IP:PORT]`: the live map of the cluster in a browser, served until
// stopped. Loopback needs no token; any other address gets one, printed once with the URL.
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { errorMessage } from '../util/errors.js';
import { globalOptions, resolveStoreUrl } from './context.js';

const DOCTOR_INTERVAL_MS = 30_000;
/** How long doctor rounds and the flows go on after the last viewer left. */
const IDLE_AFTER_MS = 60_000;

/** The global flags that named this cluster, handed on to the podnet verbs the map runs. */
function clusterArgs(cmd: Command): string[] {
  const g = globalOptions(cmd);
  return [
    ...(g.store ? ['--store', g.store] : []),
    ...(g.lab ? ['--lab', g.lab] : []),
    ...(g.kubeconfig ? ['--kubeconfig', g.kubeconfig] : []),
    ...(g.inCluster ? ['--in-cluster'] : []),
    ...(g.apiServer ? ['--api-server', g.apiServer] : []),
  ];
}

export function registerUi(program: Command): void {
  program
    .command('ui')
    .description('serve a live map of the cluster to a browser (read-only)')
    .option(
      '--listen <ip:port>',
      'where to serve; any address but loopback requires a token',
      '127.0.0.1:8080',
    )
    .option('--no-doctor', 'do not run podnet doctor on each node for the map')
    .option('--no-flows', "do not draw the agents' flows on the map")
    .action(async (opts: { listen: string; doctor: boolean; flows: boolean }, cmd: Command) => {
      const [
        { parseListen, isLoopback },
        { openStore },
        { LiveMap },
        { LiveFlows },
        probes,
        { startUiServer },
        { OnDemand },
      ] = await Promise.all([
        import('../ui/server/access.js'),
        import('../store/open.js'),
        import('../ui/server/live-map.js'),
        import('../ui/server/live-flows.js'),
        import('../ui/server/probes.js'),
        import('../ui/server/server.js'),
        import('../ui/server/on-demand.js'),
      ]);
      const listen = parseListen(opts.listen);
      const token = isLoopback(listen.host) ? undefined : randomBytes(24).toString('base64url');
      const onError = (message: string): void => {
        process.stderr.write(
          `${JSON.stringify({ level: 'warn', time: new Date().toISOString(), msg: message })}\n`,
        );
      };
      const store = await openStore(resolveStoreUrl(cmd), { create: false });
      const live = new LiveMap(store, onError);
      await live.start();
      const self = [process.execPath, process.argv[1]!];
      const podnet = probes.podnetRunner(self, clusterArgs(cmd));
      const flows = opts.flows ? new LiveFlows([...self, ...clusterArgs(cmd)], onError) : undefined;
      const watched = new OnDemand(() => {
        flows?.start();
        const stopDoctor = opts.doctor
          ? probes.startDoctorRounds(
              podnet,
              () => live.nodeNames(),
              (node, findings) => live.setFindings(node, findings),
              onError,
              DOCTOR_INTERVAL_MS,
            )
          : () => undefined;
        return () => {
          stopDoctor();
          flows?.stop();
        };
      }, IDLE_AFTER_MS);
      const { server, url } = await startUiServer({
        listen,
        token,
        live,
        flows,
        podnet,
        watched,
        onError,
      });
      process.stdout.write(`podnet map: ${url}\n`);
      const stop = (): void => {
        watched.stop();
        server.closeAllConnections();
        server.close();
        void live
          .stop()
          .then(() => store.close())
          .catch((err: unknown) => onError(errorMessage(err)));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
