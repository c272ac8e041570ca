// The map's HTTP server: the page and its script, the map and the flows as JSON, their changes
// as server-sent events, and traces on request. Every request passes access.ts first.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../../util/errors.js';
import { refusal, TRACE_PATH, type ListenAddress } from './access.js';
import type { LiveFlows } from './live-flows.js';
import type { LiveMap } from './live-map.js';
import type { OnDemand } from './on-demand.js';
import { page } from './page.js';
import { runTrace, type PodnetRunner, type TraceRequest } from './probes.js';
import { placeHops } from './trace-overlay.js';

export interface UiServerOptions {
  listen: ListenAddress;
  /** Required of every request when set. */
  token?: string;
  live: LiveMap;
  /** The flows drawn on the map; absent when the map shows none. */
  flows?: LiveFlows;
  podnet: PodnetRunner;
  /** What the map does only while it is looked at (doctor rounds, the flows). */
  watched: OnDemand;
  onError: (message: string) => void;
}

/** The browser code, bundled by the build next to this room's compiled server. */
const BUNDLE = new URL('../web/app.js', import.meta.url);
const KEEPALIVE_MS = 15_000;
const MAX_BODY = 4096;

export async function startUiServer(
  opts: UiServerOptions,
): Promise<{ server: Server; url: string }> {
  const script = readFileSync(BUNDLE);
  const server = createServer((req, res) => {
    handle(req, res, opts, script).catch((err: unknown) => {
      opts.onError(errorMessage(err));
      if (!res.headersSent) send(res, 500, { error: errorMessage(err) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  const query = opts.token ? `?token=${opts.token}` : '';
  return { server, url: `http://${host}:${port}/${query}` };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  opts: UiServerOptions,
  script: Buffer,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://ui');
  const refused = refusal(
    {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
    },
    opts.token,
  );
  if (refused) {
    if (refused.status === 405) res.setHeader('allow', 'GET, HEAD');
    send(res, refused.status, { error: refused.message });
    return;
  }
  switch (url.pathname) {
    case '/':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page());
      return;
    case '/app.js':
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
      return;
    case '/healthz':
      send(res, 200, { ok: true });
      return;
    case '/api/map':
      opts.watched.touch();
      send(res, 200, { elements: opts.live.elements() });
      return;
    case '/api/flows':
      opts.watched.touch();
      send(res, 200, opts.flows?.view() ?? { flows: [], edges: [] });
      return;
    case '/api/events':
      streamEvents(req, res, opts);
      return;
    case TRACE_PATH:
      await trace(req, res, opts);
      return;
    default:
      send(res, 404, { error: `${url.pathname}: no such page` });
  }
}

/** The whole map once, then each change as it happens; the flows each second they change. */
function streamEvents(req: IncomingMessage, res: ServerResponse, opts: UiServerOptions): void {
  const { live, flows } = opts;
  const left = opts.watched.view();
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  const event = (name: string, data: unknown): void => {
    res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  event('snapshot', { elements: live.elements() });
  const unsubscribe = live.subscribe((patch) => event('patch', patch));
  if (flows) event('flows', flows.view());
  const unsubscribeFlows = flows?.subscribe((view) => event('flows', view));
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  req.on('close', () => {
    clearInterval(keepalive);
    unsubscribe();
    unsubscribeFlows?.();
    left();
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > MAX_BODY) throw new Error('request body too large');
  }
  return body;
}

function traceRequest(body: string): TraceRequest | string {
  let parsed: Partial<Record<keyof TraceRequest, unknown>>;
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    return 'the body must be JSON: {"namespace", "pod", "destination"}';
  }
  const { namespace = 'default', pod, destination } = parsed;
  for (const [field, value] of Object.entries({ namespace, pod, destination })) {
    if (typeof value !== 'string' || value === '') return `${field}: give a non-empty string`;
  }
  return { namespace, pod, destination } as TraceRequest;
}

async function trace(
  req: IncomingMessage,
  res: ServerResponse,
  opts: UiServerOptions,
): Promise<void> {
  const request = traceRequest(await readBody(req));
  if (typeof request === 'string') {
    send(res, 400, { error: request });
    return;
  }
  const outcome = await runTrace(opts.podnet, request);
  if ('error' in outcome) {
    send(res, 400, outcome);
    return;
  }
  send(res, 200, {
    hops: placeHops(outcome.hops, opts.live.elements()),
    verdict: outcome.verdict,
  });
}
