// The few HTTPS calls the Kubernetes source makes: JSON requests and a line-per-event watch
// stream, authenticated as the kubeconfig (or the pod's service account) says. Failures become
// errors meant for people: a refused credential or permission names what was refused.
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { OperationError, StoreUnavailableError } from '../util/errors.js';

/** The API server refused who we are or what we asked: retrying cannot help. */
export class AccessRefusedError extends OperationError {
  constructor(
    readonly code: 401 | 403,
    message: string,
  ) {
    super(message);
    this.name = 'AccessRefusedError';
  }
}

/** An answer other than success, refusal or unavailability (404, 409, 410, 422...). */
export class ApiStatusError extends OperationError {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiStatusError';
  }
}

export interface WatchStream {
  /** Ends the stream; `onClose` is not called after it. */
  close(): void;
}

interface Status {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** `GET /api/v1/namespaces/x/pods?watch=1` → `watch pods`; what a refusal names. */
export function verbAndResource(method: string, path: string): string {
  const [route = '', query = ''] = path.split('?');
  const parts = route.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const group = parts[0] === 'api' ? '' : parts[1]!;
  const scoped = rest[0] === 'namespaces' && rest.length > 2 ? rest.slice(2) : rest;
  const [plural = '', name, sub] = scoped;
  const resource = `${plural}${sub ? `/${sub}` : ''}${group ? `.${group}` : ''}`;
  const verb =
    method === 'GET'
      ? /(^|&)watch=(1|true)/.test(query)
        ? 'watch'
        : name
          ? 'get'
          : 'list'
      : ({ POST: 'create', PUT: 'update', DELETE: 'delete', PATCH: 'patch' }[method] ?? method);
  return `${verb} ${resource}`;
}

export class KubeClient {
  readonly server: string;

  constructor(
    private readonly config: KubeConfig,
    server?: string,
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster && !server) {
      throw new OperationError('kubeconfig: no current cluster (set current-context)');
    }
    this.server = (server ?? cluster!.server).replace(/\/$/, '');
  }

  /** One JSON request; 2xx answers the parsed body, anything else throws. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.open(method, path, body, 30_000);
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return JSON.parse(text) as T;
    throw this.failure(method, path, status, text);
  }

  /**
   * A watch: each complete line is one event. `onClose` is told why the stream ended (undefined:
   * the server ended it cleanly); a non-2xx answer arrives there as the error it stands for.
   */
  watch(
    path: string,
    onEvent: (event: { type: string; object: unknown }) => void,
    onClose: (err?: Error) => void,
  ): WatchStream {
    let closed = false;
    let req: ClientRequest | undefined;
    const finish = (err?: Error): void => {
      if (closed) return;
      closed = true;
      onClose(err);
    };
    void this.open('GET', path, undefined, 0, (r) => (req = r)).then(
      (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          void readAll(res).then(
            (text) => finish(this.failure('GET', path, status, text)),
            (err: Error) => finish(err),
          );
          return;
        }
        let pending = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          pending += chunk;
          let nl: number;
          while (!closed && (nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (line) onEvent(JSON.parse(line) as { type: string; object: unknown });
          }
        });
        res.on('end', () => finish());
        res.on('error', (err) => finish(err));
        res.on('close', () => finish(new StoreUnavailableError(`watch ${path}: connection lost`)));
      },
      (err: Error) => finish(err),
    );
    return {
      close: () => {
        closed = true;
        req?.destroy();
      },
    };
  }

  private async open(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
    started?: (req: ClientRequest) => void,
  ): Promise<IncomingMessage> {
    const url = new URL(`${this.server}${path}`);
    const opts: RequestOptions = {
      method,
      headers: { Accept: 'application/json' },
    };
    await this.config.applyToHTTPSOptions(opts);
    const headers = { ...(opts.headers as Record<string, string>) };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    opts.headers = headers;
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, resolve);
      started?.(req);
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () =>
          req.destroy(new StoreUnavailableError(`${method} ${path}: no answer in time`)),
        );
      }
      req.on('error', (err) =>
        reject(
          err instanceof OperationError
            ? err
            : new StoreUnavailableError(
                `Kubernetes API ${this.server} unreachable: ${err.message}`,
                { cause: err },
              ),
        ),
      );
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  private failure(method: string, path: string, code: number, text: string): Error {
    let status: Status = {};
    try {
      status = JSON.parse(text) as Status;
    } catch {
      status = { message: text.trim() };
    }
    const message = status.message || `HTTP ${code}`;
    if (code === 401) {
      return new AccessRefusedError(
        401,
        `Kubernetes API ${this.server} refused this client's credentials (401 Unauthorized): check the token or certificate of the kubeconfig or service account`,
      );
    }
    if (code === 403) {
      return new AccessRefusedError(
        403,
        `Kubernetes API refused to ${verbAndResource(method, path)} (403 Forbidden): ${message}`,
      );
    }
    if (code >= 500 || code === 0) {
      return new StoreUnavailableError(`Kubernetes API: ${method} ${path}: ${message}`);
    }
    return new ApiStatusError(code, status.reason ?? '', `Kubernetes API: ${message}`);
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}
