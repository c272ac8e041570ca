// The store across machines: etcd v3 through the `etcd3` client. Every call is bounded by a
// timeout and turns into StoreUnavailableError when etcd does not answer in time (no quorum,
// no member reachable), so callers never hang. Watches are one gRPC stream each that reconnects
// (to any member) and resumes from the next revision it has not delivered.
import { readFileSync } from 'node:fs';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  type ICompare,
  type IOptions,
  type IDuplexStream,
  type IKeyValue,
  type IRequestOp,
  type IWatchRequest,
  type IWatchResponse,
} from 'etcd3';
import { resendAfterMs } from './etcd-resend.js';
import { parseEtcdUrl, type EtcdConfig } from './etcd-url.js';
import { OperationError, StoreUnavailableError, UsageError, errorMessage } from '../util/errors.js';
import {
  CompareAndSwapWrites,
  deliver,
  StoreWatchError,
  type KeyValue,
  type ListResult,
  type PutOptions,
  type Store,
  type SwapOptions,
  type SwapResult,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from './store.js';

/** Keys per range request when listing, so that large lists stay under gRPC's message limit. */
const PAGE = 2000;

function readPem(url: string, what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`store ${url}: ${what} ${file}: cannot read it (${errorMessage(err)})`);
  }
}

/**
 * gRPC's text as one line for people: without its status code, resolver notes, OpenSSL's
 * source locations and timestamp; a TLS handshake etcd refused, or a server certificate the
 * CA does not vouch for, said in the store URL's own terms.
 */
export function describeEtcdFailure(text: string, config: EtcdConfig): string {
  if (
    /alert (bad certificate|certificate required|unknown ca)|alert number (42|48|116)\b/.test(text)
  ) {
    return config.cert === undefined
      ? 'etcd asks for a client certificate: give cert=FILE&key=FILE, signed by a CA etcd trusts'
      : `etcd refused the client certificate ${config.cert}: is it signed by a CA etcd trusts?`;
  }
  if (/self[- ]signed certificate|unable to (verify|get local issuer)/.test(text)) {
    return `etcd's certificate is not signed by ca ${config.ca ?? '(none given)'}`;
  }
  return text
    .replace(/\s*Resolution note:[\s\S]*$/, '')
    .replace(/^\d+ [A-Z_]+: /, '')
    .split('\n')[0]!
    .replace(/\s*\(\d{4}-\d\d-\d\dT[^)]*\)\.?$/, '')
    .trim();
}

/** The first key after every key that starts with `prefix` (etcd's range_end). */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key
}

function toKeyValue(kv: IKeyValue): KeyValue {
  const out: KeyValue = {
    key: kv.key.toString(),
    value: kv.value.toString(),
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
  };
  if (kv.lease && kv.lease !== '0') out.lease = String(kv.lease);
  return out;
}

/**
 * The client's retry policy: try another member only when the call never reached one. The
 * library's default also retries timeouts and dropped connections, which can apply a write
 * twice, or report a compare-and-swap that did apply as a conflict.
 */
type GlobalPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;
const retryUnsent = {
  execute: async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= 3 || !/No connection established/.test(errorMessage(err))) throw err;
      }
    }
  },
};

export class EtcdStore extends CompareAndSwapWrites implements Store {
  readonly url: string;
  private readonly client: Etcd3;
  private readonly config: EtcdConfig;
  private readonly timeoutMs: number;
  private readonly watches = new Set<EtcdWatch>();

  constructor(url: string) {
    super();
    const config = parseEtcdUrl(url);
    this.url = url;
    this.config = config;
    this.timeoutMs = config.timeoutMs;
    const tls = config.ca !== undefined;
    this.client = new Etcd3({
      hosts: config.hosts.map((h) =>
        /^https?:\/\//.test(h) ? h : `${tls ? 'https' : 'http'}://${h}`,
      ),
      credentials: tls
        ? {
            rootCertificate: readPem(url, 'ca', config.ca!),
            certChain: config.cert ? readPem(url, 'cert', config.cert) : undefined,
            privateKey: config.key ? readPem(url, 'key', config.key) : undefined,
          }
        : undefined,
      // Unary calls get a deadline so that gRPC gives up too; streams (watch) live on.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.timeoutMs }),
      grpcOptions: {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        // Each of the client's services (KV, Watch, Lease) on a connection of its own, not the
        // one connection gRPC would share between them: a read or write then never queues
        // behind watch events on the way (an API server's caches receive an event for every
        // write), nor a watch behind a large range answer (etcd-io/etcd#15402).
        'grpc.use_local_subchannel_pool': 1,
      },
      faultHandling: { global: retryUnsent as unknown as GlobalPolicy },
    });
  }

  /** Runs one call within the timeout; failures become errors for people. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StoreUnavailableError(
              `store ${this.url}: ${what}: no answer within ${this.timeoutMs / 1000} s (is etcd running, with a quorum of members?)`,
            ),
          ),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (err) {
      if (err instanceof OperationError || err instanceof UsageError) throw err;
      const msg = describeEtcdFailure(errorMessage(err), this.config);
      if (/lease not found/i.test(msg)) {
        throw new OperationError(`store ${this.url}: ${what}: lease not found or expired`);
      }
      throw new StoreUnavailableError(`store ${this.url}: ${what}: store unavailable: ${msg}`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const res = await this.call('get', () => this.client.kv.range({ key: Buffer.from(key) }));
    return res.kvs[0] && toKeyValue(res.kvs[0]);
  }

  async revision(): Promise<number> {
    // A count over a range no key is in: the answer's header carries the revision.
    const res = await this.call('revision', () =>
      this.client.kv.range({ key: Buffer.from([0]), count_only: true }),
    );
    return Number(res.header.revision);
  }

  async list(prefix: string): Promise<ListResult> {
    return this.call('list', async () => {
      const end = prefixEnd(prefix);
      const items: KeyValue[] = [];
      let from = Buffer.from(prefix);
      let revision = 0;
      // Pages read at one revision: the list is one consistent snapshot.
      for (;;) {
        const res = await this.client.kv.range({
          key: from,
          range_end: end,
          limit: PAGE,
          revision: revision || undefined,
        });
        revision ||= Number(res.header.revision);
        items.push(...res.kvs.map(toKeyValue));
        if (!res.more || res.kvs.length === 0) return { items, revision };
        from = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
      }
    });
  }

  private async txn(
    what: string,
    compare: ICompare | ICompare[],
    success: IRequestOp,
    failure: IRequestOp[] = [],
  ) {
    const compares = Array.isArray(compare) ? compare : [compare];
    const res = await this.call(what, () =>
      this.client.kv.txn({ compare: compares, success: [success], failure }),
    );
    return { succeeded: res.succeeded, revision: Number(res.header.revision), res };
  }

  private putOp(key: string, value: string, opts?: PutOptions): IRequestOp {
    return {
      request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: opts?.lease ?? 0 },
    };
  }

  async compareAndSwap(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: SwapOptions,
  ): Promise<SwapResult> {
    const k = Buffer.from(key);
    const compare: ICompare =
      expectedRevision === 0
        ? { key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }
        : {
            key: k,
            target: CompareTarget.Mod,
            result: CompareResult.Equal,
            mod_revision: expectedRevision,
          };
    // etcd compares a missing key as revision 0, which is how `unchanged` says "absent".
    const unchanged = (opts?.unchanged ?? []).map((u): ICompare => ({
      key: Buffer.from(u.key),
      target: CompareTarget.Mod,
      result: CompareResult.Equal,
      mod_revision: u.modRevision,
    }));
    const r = await this.txn('update', [compare, ...unchanged], this.putOp(key, value, opts), [
      { request_range: { key: k } },
    ]);
    if (r.succeeded) return { ok: true, revision: r.revision };
    const kv = r.res.responses[0]?.response_range?.kvs[0];
    const current = kv && toKeyValue(kv);
    // The key itself was as expected, so one of the others is what refused the write.
    if (unchanged.length > 0 && (current?.modRevision ?? 0) === expectedRevision) {
      return { ok: false, current, staleRead: true };
    }
    return { ok: false, current };
  }

  async put(key: string, value: string, opts?: PutOptions): Promise<number> {
    const request = { key: Buffer.from(key), value: Buffer.from(value), lease: opts?.lease ?? 0 };
    const res = await this.call('put', async () => {
      // Each attempt is a fresh call, which the client sends to a member picked anew.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.client.kv.put(request);
        } catch (err) {
          const pauseMs = resendAfterMs('put', errorMessage(err), attempt);
          if (pauseMs === undefined) throw err;
          await new Promise((r) => setTimeout(r, pauseMs));
        }
      }
    });
    return Number(res.header.revision);
  }

  async delete(key: string, expectedRevision?: number): Promise<boolean> {
    if (expectedRevision === undefined) {
      const res = await this.call('delete', () =>
        this.client.kv.deleteRange({ key: Buffer.from(key) }),
      );
      return Number(res.deleted) > 0;
    }
    const r = await this.txn(
      'delete',
      {
        key: Buffer.from(key),
        target: CompareTarget.Mod,
        result: CompareResult.Equal,
        mod_revision: expectedRevision,
      },
      { request_delete_range: { key: Buffer.from(key) } },
    );
    return r.succeeded && Number(r.res.responses[0]?.response_delete_range?.deleted ?? 0) > 0;
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    const w = new EtcdWatch(this.client, this.url, prefix, fromRevision, handlers, this.timeoutMs);
    this.watches.add(w);
    w.start();
    return {
      cancel: async () => {
        this.watches.delete(w);
        w.cancel();
      },
      requestProgress: () => w.requestProgress(),
    };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const res = await this.call('grant lease', () =>
      this.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlSeconds)), ID: 0 }),
    );
    return String(res.ID);
  }

  async keepAlive(lease: string): Promise<void> {
    const ttl = await this.call('keep lease alive', async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      try {
        return await new Promise<string>((resolve, reject) => {
          stream.on('data', (res) => resolve(String(res.TTL)));
          stream.on('error', reject);
          stream.on('end', () => reject(new Error('keep-alive stream ended')));
          stream.write({ ID: lease });
        });
      } finally {
        stream.cancel();
      }
    });
    if (Number(ttl) <= 0) {
      throw new OperationError(`store ${this.url}: lease ${lease} not found or expired`);
    }
  }

  async revokeLease(lease: string): Promise<void> {
    try {
      await this.call('revoke lease', () => this.client.leaseClient.leaseRevoke({ ID: lease }));
    } catch (err) {
      // Revoking a lease that already expired is done.
      if (!(err instanceof OperationError) || err instanceof StoreUnavailableError) throw err;
    }
  }

  async compact(revision: number): Promise<void> {
    await this.call('compact', () =>
      this.client.kv.compact({ revision, physical: true }).catch((err: unknown) => {
        // Compacting to a revision already compacted away is done.
        if (/compacted/.test(errorMessage(err))) return undefined;
        throw err;
      }),
    );
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.cancel();
    this.watches.clear();
    this.client.close();
  }
}

/**
 * One watch: a gRPC stream, re-opened on any member when it breaks, always resuming at the
 * first revision not yet delivered, so every event arrives once and in order.
 */
class EtcdWatch {
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  private cancelled = false;
  private retryMs = 100;
  /** Since when reconnecting keeps failing (0: connected). */
  private failingSince = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly url: string,
    private readonly prefix: string,
    /** The next revision to deliver (0: from whatever is current when the watch starts). */
    private next: number,
    private readonly handlers: WatchHandlers,
    private readonly timeoutMs: number,
  ) {}

  start(): void {
    void this.open();
  }

  /** etcd answers on the stream with a progress notification once the watch is in sync. */
  requestProgress(): void {
    this.stream?.write({ progress_request: {} });
  }

  cancel(): void {
    this.cancelled = true;
    this.stream?.cancel();
    this.stream = undefined;
  }

  private async open(): Promise<void> {
    let stream: IDuplexStream<IWatchRequest, IWatchResponse>;
    try {
      stream = await this.client.watchClient.watch();
    } catch (err) {
      this.broken(err);
      return;
    }
    if (this.cancelled) {
      stream.cancel();
      return;
    }
    this.stream = stream;
    let done = false;
    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      stream.cancel();
      if (this.stream === stream) this.stream = undefined;
      this.broken(err);
    };
    stream.on('data', (res) => {
      if (!done) this.receive(res, () => (done = true), stream);
    });
    stream.on('error', fail);
    stream.on('end', () => fail(new Error('watch stream ended')));
    stream.write({
      create_request: {
        key: Buffer.from(this.prefix),
        range_end: prefixEnd(this.prefix),
        start_revision: this.next,
        prev_kv: true,
        progress_notify: true,
      },
    });
  }

  private receive(res: IWatchResponse, finish: () => void, stream: { cancel(): void }): void {
    if (this.cancelled) return;
    const compacted = Number(res.compact_revision ?? 0);
    if (compacted > 0) {
      finish();
      stream.cancel();
      this.handlers.onError(
        new StoreWatchError(
          'compacted',
          `revision ${this.next} is compacted (history starts at ${compacted}): list again and watch from there`,
        ),
      );
      return;
    }
    if (res.canceled) {
      finish();
      stream.cancel();
      this.handlers.onError(
        new StoreWatchError('error', `store ${this.url}: watch canceled: ${res.cancel_reason}`),
      );
      return;
    }
    this.failingSince = 0;
    this.retryMs = 100;
    if (res.created) {
      // Watching "from now": now is fixed at the first creation, so a reconnect misses nothing.
      if (this.next === 0) this.next = Number(res.header.revision) + 1;
      return;
    }
    const events: WatchEvent[] = [];
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev < this.next) continue; // already delivered before a reconnect
      const prevValue = ev.prev_kv ? ev.prev_kv.value.toString() : undefined;
      if (ev.type === 'Put') events.push({ type: 'put', kv: toKeyValue(ev.kv), prevValue });
      else events.push({ type: 'delete', key: ev.kv.key.toString(), modRevision: rev, prevValue });
    }
    if (events.length > 0) {
      const last = events[events.length - 1]!;
      this.next = (last.type === 'put' ? last.kv.modRevision : last.modRevision) + 1;
      deliver(this.handlers, events);
    } else if (res.events.length === 0) {
      // A progress notification: nothing under the prefix up to this revision.
      this.next = Math.max(this.next, Number(res.header.revision) + 1);
      this.handlers.onProgress?.(this.next - 1);
    }
  }

  /** The stream broke: try again (backing off) until it has failed for too long. */
  private broken(err: unknown): void {
    if (this.cancelled) return;
    const now = Date.now();
    this.failingSince ||= now;
    if (now - this.failingSince > 2 * this.timeoutMs) {
      this.cancelled = true;
      this.handlers.onError(
        new StoreWatchError(
          'error',
          `store ${this.url}: watch: store unavailable for ${Math.round((now - this.failingSince) / 1000)} s: ${errorMessage(err)}`,
        ),
      );
      return;
    }
    setTimeout(() => {
      if (!this.cancelled) void this.open();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 1000);
  }
}
