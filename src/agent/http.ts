// The agent's metrics and health endpoints (Prometheus text; /healthz alive, /readyz synced),
// and the JSON endpoints controllers add (GET only: nothing on this port changes the node).
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { HealthState } from './controller.js';

/** A JSON endpoint: the query string in, the document to send out. */
export type JsonHandler = (query: URLSearchParams) => unknown;

/** The endpoints controllers serve beside metrics and health, by path. */
export class HttpRoutes {
  private readonly handlers = new Map<string, JsonHandler>();

  add(path: string, handler: JsonHandler): void {
    this.handlers.set(path, handler);
  }

  get(path: string): JsonHandler | undefined {
    return this.handlers.get(path);
  }
}

export function startHealthServer(
  address: string,
  metrics: Registry,
  health: HealthState,
  routes: HttpRoutes = new HttpRoutes(),
): Promise<Server> {
  const [host, portText] = splitHostPort(address);
  const server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(await metrics.metrics());
      } else if (req.url === '/healthz') {
        const report = health.report();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ alive: true, ...report }));
      } else if (req.url === '/readyz') {
        const report = health.report();
        res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify(report));
      } else if (req.method === 'GET' && routes.get(pathOf(req.url))) {
        const url = new URL(req.url ?? '/', 'http://agent');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(routes.get(url.pathname)!(url.searchParams)));
      } else {
        res.writeHead(404).end();
      }
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => resolve(server));
  });
}

/**
 * `host:port`; a bare `:port` means loopback, never every address: metrics and health are the
 * host's own, reachable from elsewhere only through an address someone chose to configure.
 */
function splitHostPort(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i) || '127.0.0.1', address.slice(i + 1)];
}

function pathOf(url: string | undefined): string {
  return new URL(url ?? '/', 'http://agent').pathname;
}
