// `podnet dns` as a daemon: the cluster index fed by a source (the store's informers), the
// query handler, UDP+TCP sockets, and the metrics/health endpoint. With several workers the
// primary process supervises and serves that endpoint: each worker keeps its own index and
// answers on sockets of its own bound to the same port (SO_REUSEPORT), which the kernel
// balances by flow; /metrics sums the workers' counts and /readyz waits for every worker.
import cluster from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import { registerHeapAfterGc, registerHeapSpaces } from '../util/heap-metrics.js';
import { createLogger, type Logger } from '../util/log.js';
import { ClusterIndex } from './cluster-index.js';
import { Forwarder, type Upstream } from './forwarder.js';
import { QueryHandler } from './handler.js';
import { DnsMetrics } from './metrics.js';
import type { RateLimitOptions } from './rate-limit.js';
import { tryParseIP, type Cidr } from '../net/index.js';
import { startDnsServer, type RunningServer, type ServerOptions } from './server.js';
import { WORKER_GAVE_UP } from './workers.js';

/** Keeps an index current; resolves once the index holds the first full list. */
export type ClusterSource = (
  index: ClusterIndex,
  log: Logger,
) => Promise<{ stop(): Promise<void> }>;

export interface DnsOptions {
  /** Addresses to answer on, comma-separated (`0.0.0.0,::`: both families), one port. */
  listen: string;
  port: number;
  domain: string;
  ttl: number;
  upstreams: Upstream[];
  /** Ranges beside the cluster's own whose clients may have names outside it resolved. */
  recursionAllow: readonly Cidr[];
  rateLimit: RateLimitOptions;
  /** host:port for /metrics, /healthz, /readyz; empty for none. */
  metrics: string;
  /** Processes answering queries (1: this process answers itself); see workers.ts. */
  workers: number;
  source: ClusterSource;
}

export interface DnsInstance {
  index: ClusterIndex;
  metrics: DnsMetrics;
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
  // Whether a creeping resident size is garbage V8 has not collected yet or a leak (the soak).
  const stopHeapGauge = registerHeapAfterGc(metrics.registry);
  registerHeapSpaces(metrics.registry);
  const forwarder =
    opts.upstreams.length > 0 ? new Forwarder({ upstreams: opts.upstreams }) : undefined;
  const handler = new QueryHandler({
    index,
    domain: opts.domain,
    ttl: opts.ttl,
    forwarder,
    metrics,
    recursionAllow: opts.recursionAllow,
    rateLimit: opts.rateLimit,
  });
  // Sockets first: until the first sync the server answers SERVFAIL rather than nothing.
  const server = await startServers(opts, { handler, log, reusePort });
  const http = opts.metrics
    ? await startMetrics(opts.metrics, {
        metrics: () => metrics.registry.metrics(),
        contentType: metrics.registry.contentType,
        ready: () => index.synced,
      })
    : undefined;
  let source: { stop(): Promise<void> } | undefined;
  const sourceReady = opts.source(index, log).then((s) => {
    source = s;
    log.info({ version: index.version }, 'cluster state synced');
    if (cluster.isWorker) process.send?.(SYNCED);
  });
  sourceReady.catch((err: unknown) => log.error({ err: String(err) }, 'cluster source failed'));
  return {
    index,
    metrics,
    server,
    stop: async () => {
      stopHeapGauge();
      await source?.stop();
      forwarder?.close();
      await server.close();
      await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    },
  };
}

/**
 * The sockets of every listen address, on one port (the first address's, when port 0 lets it
 * pick). With an IPv4 address beside it, an IPv6 one takes IPv6 only; a kernel without IPv6
 * leaves the default `::` unbound rather than the server unstarted.
 */
async function startServers(
  opts: DnsOptions,
  shared: Pick<ServerOptions, 'handler' | 'log' | 'reusePort'>,
): Promise<RunningServer> {
  const hosts = opts.listen.split(',').map((h) => h.trim());
  const families = new Set(hosts.map((h) => tryParseIP(h)?.family));
  const ipv6Only = families.has(4) && families.has(6);
  const servers: RunningServer[] = [];
  let port = opts.port;
  try {
    for (const host of hosts) {
      try {
        servers.push(await startDnsServer({ ...shared, host, port, ipv6Only }));
      } catch (err) {
        if (servers.length === 0 || (err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') {
          throw err;
        }
        shared.log.warn({ listen: host }, 'no IPv6 in this kernel: answering on IPv4 only');
        continue;
      }
      port = servers[0]!.port;
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  return {
    port,
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
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
    await superviseWorkers(opts, log);
    return;
  }
  // A worker's metrics reach the endpoint through the primary.
  const instance = await startDns(
    { ...opts, metrics: cluster.isWorker ? '' : opts.metrics },
    log,
    cluster.isWorker,
  );
  if (cluster.isWorker) {
    // Constructing one is what makes a worker answer the primary's requests for its metrics.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([instance.metrics.registry]);
  }
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

/** What a worker tells the primary once its index holds the first full list. */
const SYNCED = 'podnet-dns-synced';

async function superviseWorkers(opts: DnsOptions, log: Logger): Promise<void> {
  let stopping = false;
  let exitCode = 0;
  const synced = new Set<number>();
  cluster.on('message', (worker, message) => {
    if (message === SYNCED) synced.add(worker.id);
  });
  const live = (): number[] => Object.values(cluster.workers ?? {}).map((w) => w!.id);
  if (opts.metrics) {
    const aggregator = new AggregatorRegistry();
    await startMetrics(opts.metrics, {
      metrics: () => aggregator.clusterMetrics(),
      contentType: aggregator.contentType,
      ready: () => live().length > 0 && live().every((id) => synced.has(id)),
    });
  }
  for (let i = 0; i < opts.workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    synced.delete(worker.id);
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

interface MetricsEndpoint {
  metrics(): Promise<string>;
  contentType: string;
  ready(): boolean;
}

function startMetrics(address: string, endpoint: MetricsEndpoint): Promise<Server> {
  const i = address.lastIndexOf(':');
  // `[::]:9153` is every family's address, as `0.0.0.0:9153` is IPv4's.
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  const port = Number(address.slice(i + 1));
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      endpoint.metrics().then(
        (text) => res.writeHead(200, { 'content-type': endpoint.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200).end('ok\n');
    } else if (req.url === '/readyz') {
      const ready = endpoint.ready();
      res.writeHead(ready ? 200 : 503).end(ready ? 'ok\n' : 'not synced\n');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
