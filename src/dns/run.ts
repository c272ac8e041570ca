// `podnet dns` as a daemon: the cluster index fed by a source (the store's informers), the
// query handler, UDP+TCP sockets, and the metrics/health endpoint. With several workers the
// primary process only supervises: each worker keeps its own index and answers on sockets of
// its own bound to the same port (SO_REUSEPORT), which the kernel balances by flow.
import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { createLogger, type Logger } from '../util/log.js';
import { ClusterIndex } from './cluster-index.js';
import { Forwarder, type Upstream } from './forwarder.js';
import { QueryHandler } from './handler.js';
import { DnsMetrics } from './metrics.js';
import { startDnsServer, type RunningServer } from './server.js';
import { WORKER_GAVE_UP } from './workers.js';

/** Keeps an index current; resolves once the index holds the first full list. */
export type ClusterSource = (
  index: ClusterIndex,
  log: Logger,
) => Promise<{ stop(): Promise<void> }>;

export interface DnsOptions {
  listen: string;
  port: number;
  domain: string;
  ttl: number;
  upstreams: Upstream[];
  /** host:port for /metrics, /healthz, /readyz; empty for none. */
  metrics: string;
  /** Processes answering queries (1: this process answers itself); see workers.ts. */
  workers: number;
  source: ClusterSource;
}

export interface DnsInstance {
  index: ClusterIndex;
  server: RunningServer;
  stop(): Promise<void>;
}

/** Runs the server in this process; resolves once the sockets are bound. */
export async function startDns(
  opts: DnsOptions,
  log: Logger,
  reusePort = false,
): Promise<DnsInstance> {
  const index = new ClusterIndex(opts.domain);
  const metrics = new DnsMetrics();
  const forwarder =
    opts.upstreams.length > 0 ? new Forwarder({ upstreams: opts.upstreams }) : undefined;
  const handler = new QueryHandler({
    index,
    domain: opts.domain,
    ttl: opts.ttl,
    forwarder,
    metrics,
  });
  // Sockets first: until the first sync the server answers SERVFAIL rather than nothing.
  const server = await startDnsServer({
    host: opts.listen,
    port: opts.port,
    handler,
    log,
    reusePort,
  });
  const http = opts.metrics ? await startMetrics(opts.metrics, metrics, index) : undefined;
  let source: { stop(): Promise<void> } | undefined;
  const sourceReady = opts.source(index, log).then((s) => {
    source = s;
    log.info({ version: index.version }, 'cluster state synced');
  });
  sourceReady.catch((err: unknown) => log.error({ err: String(err) }, 'cluster source failed'));
  return {
    index,
    server,
    stop: async () => {
      await source?.stop();
      forwarder?.close();
      await server.close();
      await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    },
  };
}

/** Runs until SIGTERM/SIGINT; with workers > 1 forks that many answering processes. */
export async function runDns(opts: DnsOptions): Promise<void> {
  const log = createLogger('dns', cluster.isPrimary ? {} : { worker: cluster.worker?.id });
  if (opts.workers > 1 && cluster.isPrimary) {
    // One read of the cluster before forking: a source that refuses this server's credentials
    // ends it here, said once, rather than in every worker.
    await (await opts.source(new ClusterIndex(opts.domain), log)).stop();
    superviseWorkers(opts.workers, log);
    return;
  }
  // Each worker binds its own sockets; only the first serves metrics (one port per pod).
  const first = cluster.isPrimary || cluster.worker?.id === 1;
  const instance = await startDns(
    { ...opts, metrics: first ? opts.metrics : '' },
    log,
    cluster.isWorker,
  );
  log.info({ listen: opts.listen, port: instance.server.port }, 'dns server listening');
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void instance.stop().finally(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  // A worker's channel to the primary would keep it alive.
  cluster.worker?.disconnect();
}

function superviseWorkers(n: number, log: Logger): void {
  let stopping = false;
  let exitCode = 0;
  for (let i = 0; i < n; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (code === WORKER_GAVE_UP && !stopping) {
      // It said why on stderr; the others would fail the same way.
      stopping = true;
      exitCode = 1;
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    }
    if (stopping) {
      // Leave once the last worker is gone.
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    log.warn({ worker: worker.id, code, signal }, 'dns worker exited, starting another');
    cluster.fork();
  });
  const stop = (): void => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

function startMetrics(address: string, metrics: DnsMetrics, index: ClusterIndex): Promise<Server> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i) || '0.0.0.0';
  const port = Number(address.slice(i + 1));
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else if (req.url === '/readyz') {
      res.writeHead(index.synced ? 200 : 503).end(index.synced ? 'ok\n' : 'not synced\n');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
