// The API server: HTTPS over the cluster store, speaking the Kubernetes REST API. A request is
// authenticated (a chain of authenticators), routed to discovery or to a verb on a resource,
// authorized, and answered with JSON (a Table when the client asks for one, a Status when it is
// refused). Plain HTTP, when asked for, serves only /healthz and /readyz.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { Store } from '../store/store.js';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { parseFieldValidation } from './admission.js';
import {
  InvalidCredentialsError,
  authenticate,
  type Authenticator,
  type Authorizer,
  type UserInfo,
} from './auth.js';
import type { RequestAttributes } from './request-attributes.js';
import { coreVersions, group, groupList, resourceList, versionInfo } from './discovery.js';
import {
  create,
  getOne,
  getOneJson,
  patch,
  patchTypeOf,
  remove,
  update,
  type Reply,
  type Target,
} from './handlers.js';
import { listBody, listPage, pageOf, sendList, type ListPage } from './list.js';
import { openApiV3 } from './openapi.js';
import { openApiV2 } from './openapi-v2.js';
import { decodeProtobufBody } from './protobuf-decode.js';
import { dryRun, flag, integer, selectionOf } from './query.js';
import { SUBRESOURCES, resourceFor } from './resources.js';
import {
  ApiError,
  badRequest,
  forbidden,
  internalError,
  methodNotAllowed,
  unauthorized,
  type Status,
} from './status.js';
import { toTable, wantsTable, type IncludeObject } from './table.js';
import { answerReview, reviewAt } from './reviews.js';
import { requestToken, type TokenIssuer } from './token-request.js';
import { SharedWatches } from './shared-watch.js';
import { WatchCaches } from './watch-cache.js';
import { serveWatch } from './watch.js';

export interface ApiServerOptions {
  store: Store;
  host: string;
  port: number;
  tls: { key: string; cert: string; ca: string };
  authenticators: readonly Authenticator[];
  authorizer: Authorizer;
  /** The lists served from memory, one per kind; the authorizer reads its roles there too. */
  caches: WatchCaches;
  /** Signs ServiceAccount tokens for TokenRequests (`kubectl create token`); none: 404. */
  issueToken?: TokenIssuer;
  log: Logger;
  /** Plain-HTTP health endpoint, if any. */
  health?: { host: string; port: number };
}

export interface ApiServer {
  /** `https://host:port` as clients reach it. */
  url: string;
  healthUrl?: string;
  close(): Promise<void>;
}

const MAX_BODY = 3 * 1024 * 1024;

/** The options and what the server shares between requests. */
interface Serving extends ApiServerOptions {
  watches: SharedWatches;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const opts: Serving = {
    ...options,
    watches: new SharedWatches(options.store),
  };
  const https = createHttpsServer(
    {
      key: opts.tls.key,
      cert: opts.tls.cert,
      ca: opts.tls.ca,
      requestCert: true,
      // Unauthenticated requests reach the handler, which answers 401 as a Status.
      rejectUnauthorized: false,
    },
    (req, res) => void handle(opts, req, res),
  );
  // An idle client connection stays open as long as Go's HTTP clients keep theirs (90 s), not
  // Node's 5 s: a client that pauses between calls would otherwise pay a new TLS handshake on
  // its next call, and under a burst many at once.
  https.keepAliveTimeout = 90_000;
  const servers: Server[] = [https];
  const url = `https://${hostForUrl(opts.host)}:${await listen(https, opts.host, opts.port)}`;
  let healthUrl: string | undefined;
  if (opts.health) {
    const plain = createHttpServer((req, res) => {
      if (!health(requestUrl(req).pathname, res)) sendStatus(res, notServedPlain().status);
    });
    servers.push(plain);
    const port = await listen(plain, opts.health.host, opts.health.port);
    healthUrl = `http://${hostForUrl(opts.health.host)}:${port}`;
  }
  return {
    url,
    healthUrl,
    close: async () => {
      opts.caches.stop();
      for (const s of servers) {
        (s as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}

function notServedPlain(): ApiError {
  return new ApiError(
    403,
    'Forbidden',
    'only /healthz and /readyz are served over plain HTTP; use HTTPS',
  );
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? '/', 'https://x');
}

function health(path: string, res: ServerResponse): boolean {
  if (!['/healthz', '/readyz', '/livez'].includes(path)) return false;
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('ok');
  return true;
}

async function handle(opts: Serving, req: IncomingMessage, res: ServerResponse) {
  try {
    // Parsed once: the health check, discovery and routing all read it.
    const url = requestUrl(req);
    if (health(url.pathname, res)) return;
    let user;
    try {
      user = await authenticate(opts.authenticators, req);
    } catch (err) {
      if (err instanceof InvalidCredentialsError) {
        opts.log.info({ url: req.url, why: errorMessage(err) }, 'credentials refused');
        throw unauthorized();
      }
      throw err;
    }
    if (!user) throw unauthorized();
    const discovered = discovery(url.pathname, req.headers.host ?? '');
    if (discovered !== undefined) {
      const method = (req.method ?? 'GET').toLowerCase();
      await mayDo(opts, user, { verb: method, path: url.pathname });
      if (req.method !== 'GET') throw methodNotAllowed(`${req.method} is not allowed here`);
      return sendDiscovery(res, discovered);
    }
    const review = reviewAt(url.pathname);
    if (review) {
      await mayDo(opts, user, {
        verb: req.method === 'POST' ? 'create' : (req.method ?? 'GET').toLowerCase(),
        group: review.group,
        resource: review.plural,
      });
      if (req.method !== 'POST') throw methodNotAllowed(`${req.method} is not allowed here`);
      const body = await readBody(req, req.headers['content-type']);
      return sendJson(res, 201, await answerReview(review, user, body, opts.authorizer));
    }
    const target = route(url.pathname);
    const verb = verbOf(req.method ?? 'GET', target, url.searchParams);
    await mayDo(opts, user, {
      verb,
      group: target.resource.group,
      resource: target.resource.plural,
      subresource: target.subresource,
      namespace: target.namespace,
      name: target.name,
    });
    await serve(opts, req, res, target, verb, url.searchParams);
  } catch (err) {
    if (res.headersSent) {
      res.end();
      return;
    }
    const apiErr = err instanceof ApiError ? err : internalError(errorMessage(err));
    if (!(err instanceof ApiError))
      opts.log.error({ err: errorMessage(err), url: req.url }, 'request failed');
    sendStatus(res, apiErr.status);
  }
}

async function mayDo(opts: ApiServerOptions, user: UserInfo, request: RequestAttributes) {
  const decision = await opts.authorizer.authorize(user, request);
  if (!decision.allowed) throw forbidden(user.name, request);
}

type Discovered = { json: unknown } | { text: string } | { octets: Buffer } | 'missing';

let openApiCache: ReturnType<typeof openApiV3> | undefined;
let openApiV2Cache: Buffer | undefined;
/** Made once, on first request: the kinds do not change while the server runs. */
function openApi() {
  return (openApiCache ??= openApiV3());
}
function openApiProtobuf() {
  return (openApiV2Cache ??= openApiV2());
}

function discovery(path: string, host: string): Discovered | undefined {
  const p = path.replace(/\/+$/, '') || '/';
  if (p === '/version') return { json: versionInfo() };
  if (p === '/api') return { json: coreVersions(host) };
  if (p === '/apis') return { json: groupList() };
  if (p === '/openapi/v2' || p === '/swagger-2.0.0.pb-v1') return { octets: openApiProtobuf() };
  if (p === '/openapi/v3') return { json: openApi().index };
  if (p.startsWith('/openapi/v3/')) {
    const doc = openApi().documents.get(p.slice('/openapi/v3/'.length));
    return doc === undefined ? 'missing' : { text: doc };
  }
  if (p.startsWith('/openapi/')) return 'missing';
  const core = /^\/api\/([^/]+)$/.exec(p);
  if (core) return found(resourceList('', core[1]!));
  const named = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(p);
  if (named) return found(named[2] ? resourceList(named[1]!, named[2]) : group(named[1]!));
  if (p === '/')
    return { json: { paths: ['/api', '/api/v1', '/apis', '/healthz', '/readyz', '/version'] } };
  return undefined;
}

function found(doc: unknown): Discovered {
  return doc === undefined ? 'missing' : { json: doc };
}

function sendDiscovery(res: ServerResponse, d: Discovered) {
  if (d === 'missing')
    throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
  if ('text' in d) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(d.text);
    return;
  }
  if ('octets' in d) {
    // Not the protobuf media type kubectl asks for: its '@' breaks clients' MIME parsing.
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.end(d.octets);
    return;
  }
  sendJson(res, 200, d.json);
}

function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

/** `/api/v1/namespaces/NS/pods/NAME/status` and friends → what the request is about. */
export function route(path: string): Target {
  const parts = path
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) {
    [group, version, rest] = ['', parts[1]!, parts.slice(2)];
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  } else throw notFoundPath();
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && resourceFor(group, version, rest[2]!)) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const resource = resourceFor(group, version, rest[0] ?? '');
  if (!resource || rest.length > 3) throw notFoundPath();
  if (namespace !== undefined && !resource.namespaced) throw notFoundPath();
  const [, name, subresource] = rest;
  if (subresource !== undefined && !resource.subresources.includes(subresource)) {
    throw notFoundPath();
  }
  return { resource, namespace, name, subresource };
}

function verbOf(method: string, t: Target, query: URLSearchParams): string {
  const verb = resourceVerbOf(method, t, query);
  if (t.subresource !== undefined && !SUBRESOURCES[t.subresource]!.verbs.includes(verb)) {
    throw methodNotAllowed(`${method} is not allowed on ${t.resource.plural}/${t.subresource}`);
  }
  return verb;
}

function resourceVerbOf(method: string, t: Target, query: URLSearchParams): string {
  const named = t.name !== undefined;
  switch (method) {
    case 'GET':
      if (named) return 'get';
      return flag(query, 'watch') ? 'watch' : 'list';
    case 'POST':
      // A subresource that makes something from its object (a ServiceAccount's token).
      if (!named || t.subresource !== undefined) return 'create';
      break;
    case 'PUT':
      if (named) return 'update';
      break;
    case 'PATCH':
      if (named) return 'patch';
      break;
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
  }
  throw methodNotAllowed(`${method} is not allowed on ${named ? 'an object' : 'a collection'}`);
}

async function serve(
  opts: Serving,
  req: IncomingMessage,
  res: ServerResponse,
  t: Target,
  verb: string,
  query: URLSearchParams,
): Promise<void> {
  const store = opts.store;
  const table = wantsTable(req.headers.accept);
  const include = (query.get('includeObject') ?? 'Metadata') as IncludeObject;
  // Namespaced objects are addressed inside their namespace; only reads span namespaces.
  if (t.resource.namespaced && t.namespace === undefined && !['list', 'watch'].includes(verb)) {
    throw notFoundPath();
  }
  const write = async (fn: () => Promise<Reply>) => {
    const reply = await fn();
    for (const w of reply.warnings ?? []) res.appendHeader('Warning', `299 - ${JSON.stringify(w)}`);
    sendJson(res, reply.code, reply.body);
  };
  switch (verb) {
    case 'get': {
      if (!table) return sendJsonText(res, 200, await getOneJson(store, t));
      const obj = await getOne(store, t);
      return sendJson(
        res,
        200,
        toTable(t.resource, [obj], {
          version: table,
          include,
          resourceVersion: obj.metadata.resourceVersion,
        }),
      );
    }
    case 'list': {
      const page = await listed(opts, t, query);
      if (!table) return sendList(res, t.resource, page);
      return sendJson(
        res,
        200,
        toTable(
          t.resource,
          page.items.map((l) => l.object),
          {
            version: table,
            include,
            resourceVersion: String(page.revision),
            continueToken: page.continueToken,
          },
        ),
      );
    }
    case 'watch':
      return serveWatch(req, res, {
        store,
        watches: opts.watches,
        resource: t.resource,
        namespace: t.namespace,
        selection: selectionOf(t.resource, query),
        resourceVersion: query.get('resourceVersion') ?? undefined,
        bookmarks: flag(query, 'allowWatchBookmarks'),
        timeoutSeconds: integer(query, 'timeoutSeconds'),
        table,
        include,
      });
    case 'create':
    case 'update':
    case 'patch': {
      const contentType = req.headers['content-type'];
      const type = verb === 'patch' ? patchTypeOf(contentType, t.resource) : undefined;
      const body = await readBody(req, contentType);
      if (t.subresource === 'token') {
        if (!opts.issueToken) throw notFoundPath();
        return write(() => requestToken(store, t.namespace!, t.name!, body, opts.issueToken!));
      }
      const w = {
        store,
        caches: opts.caches,
        target: t,
        body,
        dryRun: dryRun(query),
        fieldValidation: parseFieldValidation(query.get('fieldValidation')),
      };
      if (verb === 'create') return write(() => create(w));
      if (verb === 'update') return write(() => update(w));
      return write(() => patch({ ...w, type: type! }));
    }
    case 'delete': {
      const options = (await readBody(req, req.headers['content-type'], true)) as DeleteBody;
      return write(() =>
        remove({
          store,
          target: t,
          gracePeriodSeconds: integer(query, 'gracePeriodSeconds') ?? options?.gracePeriodSeconds,
          preconditions: options?.preconditions,
          dryRun: dryRun(query) || (options?.dryRun ?? []).includes('All'),
        }),
      );
    }
    case 'deletecollection': {
      const options = (await readBody(req, req.headers['content-type'], true)) as DeleteBody;
      const page = await listPage(
        store,
        t.resource,
        t.namespace,
        selectionOf(t.resource, query),
        undefined,
        null,
      );
      const deleted = [];
      for (const { object: obj } of page.items) {
        const reply = await remove({
          store,
          target: { ...t, namespace: obj.metadata.namespace, name: obj.metadata.name },
          gracePeriodSeconds: integer(query, 'gracePeriodSeconds') ?? options?.gracePeriodSeconds,
          dryRun: dryRun(query),
        });
        deleted.push(reply.body);
      }
      return sendJson(res, 200, listBody(t.resource, page.revision, deleted));
    }
  }
  throw methodNotAllowed(`${verb} is not served`);
}

/**
 * A list's page: from the watch cache when the request's resourceVersion lets it ("": the most
 * recent, once the cache has caught up; "0": whatever the cache has), else from the store.
 */
async function listed(opts: Serving, t: Target, query: URLSearchParams): Promise<ListPage> {
  const sel = selectionOf(t.resource, query);
  const limit = integer(query, 'limit');
  const continueToken = query.get('continue');
  const rv = query.get('resourceVersion') ?? '';
  const cached =
    rv === ''
      ? await opts.caches.of(t.resource).mostRecent(t.namespace)
      : rv === '0' && continueToken === null
        ? opts.caches.of(t.resource).anyRecent(t.namespace)
        : undefined;
  if (cached) return pageOf(t.resource, cached, sel, limit, continueToken);
  return listPage(opts.store, t.resource, t.namespace, sel, limit, continueToken);
}

interface DeleteBody {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
}

function readBody(
  req: IncomingMessage,
  contentType: string | undefined,
  optional = false,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, 'RequestEntityTooLarge', 'the request body is too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (media === 'application/vnd.kubernetes.protobuf') {
        try {
          return resolve(decodeProtobufBody(Buffer.concat(chunks), media));
        } catch (err) {
          return reject(err);
        }
      }
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        if (optional) return resolve(undefined);
        return reject(badRequest('the request has no body'));
      }
      try {
        resolve(/yaml/i.test(contentType ?? '') ? parseYaml(text) : JSON.parse(text));
      } catch (err) {
        reject(
          badRequest(
            `the body is not valid ${/yaml/i.test(contentType ?? '') ? 'YAML' : 'JSON'}: ${errorMessage(err)}`,
          ),
        );
      }
    });
  });
}

function sendJson(res: ServerResponse, code: number, body: unknown) {
  sendJsonText(res, code, JSON.stringify(body));
}

function sendJsonText(res: ServerResponse, code: number, text: string) {
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendStatus(res: ServerResponse, status: Status) {
  sendJson(res, status.code, status);
}
