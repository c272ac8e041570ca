// The agent's metrics and health endpoints (Prometheus text; /healthz alive, /readyz synced).
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { AgentRoutes, HealthState } from './controller.js';

export function startHealthServer(
  address: string,
  metrics: Registry,
  health: HealthState,
  routes: AgentRoutes = new Map(),
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
      } else if (req.url && routes.has(req.url)) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(routes.get(req.url)!()));
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

function splitHostPort(address: string): [string, string] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), address.slice(i + 1)];
}
