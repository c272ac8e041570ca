// The lab's guard in front of moto: what moto leaves out of EC2 and podnet must cope with.
// It meters route calls and DescribeRouteTables with AWS's token buckets (answering
// RequestLimitExceeded, never queueing), refuses CreateRoute past the quota
// (RouteLimitExceeded; each table's routes of each family counted once, then followed through
// the guard's own writes), and reports routes to terminated instances as blackholes. Tests
// reach it under /guard/: POST /guard/throttle?calls=N throttles the next N metered calls, GET
// /guard/stats counts what it answered.
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { AWS_BUCKETS, TokenBucket } from '../cloud/pacing.js';
import { routeState, type EmulatedInterface } from './cloud-plan.js';
import { motoClient, readInterfaces, readRoutes } from './cloud-moto.js';
import { countKey, parseCountKey, RouteCounts, routesOfFamily } from './cloud-route-counts.js';

export interface GuardOptions {
  host: string;
  port: number;
  /** moto's URL. */
  upstream: string;
  /** Routes one table may hold, as the API counts them. */
  quota: number;
}

export interface GuardStats {
  calls: Record<string, number>;
  throttled: number;
  routeLimitExceeded: number;
}

const ROUTE_CALLS = new Set(['CreateRoute', 'ReplaceRoute', 'DeleteRoute']);

/** EC2's error document (query protocol). */
export function ec2ErrorXml(code: string, message: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors>` +
    '<RequestID>lab-guard</RequestID></Response>'
  );
}

/**
 * A DescribeRouteTables answer with each route to a gone target marked blackhole (moto keeps
 * them active). Route items are flat, so each is rewritten on its own.
 */
export function markBlackholes(
  xml: string,
  interfaces: ReadonlyMap<string, EmulatedInterface>,
): string {
  return xml.replace(/<routeSet>[\s\S]*?<\/routeSet>/g, (set) =>
    set.replace(/<item>[\s\S]*?<\/item>/g, (item) => {
      const eni = /<networkInterfaceId>([^<]+)<\/networkInterfaceId>/.exec(item)?.[1];
      if (eni === undefined) return item;
      if (routeState({ destination: '', networkInterfaceId: eni }, interfaces) === 'active') {
        return item;
      }
      return item.replace(/<state>[^<]*<\/state>/, '<state>blackhole</state>');
    }),
  );
}

export async function startGuard(opts: GuardOptions): Promise<Server> {
  const moto = motoClient(opts.upstream);
  const buckets = {
    routes: new TokenBucket(AWS_BUCKETS.routes.burst, AWS_BUCKETS.routes.perSecond),
    describe: new TokenBucket(
      AWS_BUCKETS.describeRouteTables.burst,
      AWS_BUCKETS.describeRouteTables.perSecond,
    ),
  };
  const stats: GuardStats = { calls: {}, throttled: 0, routeLimitExceeded: 0 };
  let throttleNext = 0;
  const counts = new RouteCounts(async (key) => {
    const { table, family } = parseCountKey(key);
    const routes = (await readRoutes(moto, [table])).get(table);
    return (
      routes &&
      routesOfFamily(
        routes.map((r) => r.destination),
        family,
      )
    );
  });
  // Route writes one at a time: a count and the write it admits must not interleave with
  // another write to the table.
  let writing: Promise<unknown> = Promise.resolve();

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://guard');
      if (url.pathname === '/guard/throttle' && req.method === 'POST') {
        throttleNext += Number(url.searchParams.get('calls') ?? '0') || 0;
        return reply(res, 200, 'application/json', JSON.stringify({ throttleNext }));
      }
      if (url.pathname === '/guard/stats') {
        return reply(res, 200, 'application/json', JSON.stringify(stats));
      }
      const action = new URLSearchParams(body.toString('utf8')).get('Action') ?? '';
      if (action) stats.calls[action] = (stats.calls[action] ?? 0) + 1;
      const bucket = ROUTE_CALLS.has(action)
        ? buckets.routes
        : action === 'DescribeRouteTables'
          ? buckets.describe
          : undefined;
      if (bucket && (throttleNext > 0 || !bucket.tryTake())) {
        if (throttleNext > 0) throttleNext--;
        stats.throttled++;
        return reply(
          res,
          503,
          'text/xml',
          ec2ErrorXml('RequestLimitExceeded', 'Request limit exceeded.'),
        );
      }
      if (ROUTE_CALLS.has(action)) {
        const turn = writing.then(() => routeCall(action, req, body, res));
        writing = turn.catch(() => {});
        return turn;
      }
      const answer = await forward(opts.upstream, req, body);
      // Any other write (a new table, a reset) may change what a table holds.
      if (!/^(Describe|Get|List)/.test(action)) counts.forgetAll();
      if (action === 'DescribeRouteTables' && answer.status === 200) {
        const text = markBlackholes(answer.body.toString('utf8'), await readInterfaces(moto));
        return reply(res, 200, answer.contentType, text);
      }
      return reply(res, answer.status, answer.contentType, answer.body);
    })().catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      reply(res, 500, 'text/xml', ec2ErrorXml('InternalError', message));
    });
  });

  async function routeCall(
    action: string,
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    const params = new URLSearchParams(body.toString('utf8'));
    const table = params.get('RouteTableId') ?? '';
    const key = countKey(table, params.has('DestinationIpv6CidrBlock') ? 6 : 4);
    const count = action === 'CreateRoute' ? await counts.count(key) : undefined;
    if (count !== undefined && count >= opts.quota) {
      stats.routeLimitExceeded++;
      return reply(
        res,
        400,
        'text/xml',
        ec2ErrorXml(
          'RouteLimitExceeded',
          `The maximum number of routes (${opts.quota}) has been reached for route table ${table}`,
        ),
      );
    }
    const answer = await forward(opts.upstream, req, body).catch((err: unknown) => {
      counts.routeCall(action, key, false);
      throw err;
    });
    counts.routeCall(action, key, answer.status === 200);
    reply(res, answer.status, answer.contentType, answer.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return server;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Answer {
  status: number;
  contentType: string;
  body: Buffer;
}

function forward(upstream: string, req: IncomingMessage, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, 'content-length': String(body.length) };
    const out = request(
      new URL(req.url ?? '/', upstream),
      { method: req.method, headers },
      (res) => {
        void readBody(res).then(
          (b) =>
            resolve({
              status: res.statusCode ?? 502,
              contentType: String(res.headers['content-type'] ?? 'text/xml'),
              body: b,
            }),
          reject,
        );
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}

function reply(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
