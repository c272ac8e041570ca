// Who may read the map: on a loopback address anyone on the machine (as with the agent's
// metrics); on any other address only a holder of the token printed at start, given as
// `Authorization: Bearer TOKEN` or `?token=TOKEN` (the browser's EventSource sends no headers).
// Everything is read-only: GET, and POST only to run a trace. Pure.
import { timingSafeEqual } from 'node:crypto';
import { containsIP, parseCidr, tryParseIP } from '../../net/index.js';
import { UsageError } from '../../util/errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `HOST:PORT` or `[V6]:PORT`; HOST must be an IP address. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !tryParseIP(host) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `--listen ${text}: give IP:PORT (e.g. 127.0.0.1:8080, [::1]:8080, 0.0.0.0:8080)`,
    );
  }
  return { host, port };
}

const LOOPBACK = [parseCidr('127.0.0.0/8'), parseCidr('::1/128')];

export function isLoopback(host: string): boolean {
  const ip = tryParseIP(host);
  return ip !== undefined && LOOPBACK.some((c) => c.family === ip.family && containsIP(c, ip));
}

export interface RequestView {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization?: string;
}

export type Refusal = { status: 401 | 405; message: string };

/** The one request that runs something: a trace reads the kernel and changes nothing. */
export const TRACE_PATH = '/api/trace';

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Undefined when the request may go on; otherwise why not. `token` undefined: none needed. */
export function refusal(req: RequestView, token: string | undefined): Refusal | undefined {
  const readOnly = req.method === 'GET' || req.method === 'HEAD';
  if (!readOnly && !(req.method === 'POST' && req.path === TRACE_PATH)) {
    return { status: 405, message: `${req.method} ${req.path}: the map is read-only` };
  }
  if (token === undefined) return undefined;
  const bearer = /^Bearer (.+)$/.exec(req.authorization ?? '')?.[1];
  const given = bearer ?? req.query.get('token') ?? '';
  return sameToken(given, token)
    ? undefined
    : { status: 401, message: 'a token is required: open the URL podnet ui printed' };
}
