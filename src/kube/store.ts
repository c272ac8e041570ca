// The Kubernetes source: podnet's `Store` over the Kubernetes API, so agents, DNS and the pod
// runner read a cluster through the same list/watch interface as podnet's own store. A key's
// revision is the object's resourceVersion; compare-and-swap is an update at a resourceVersion;
// a store lease is a Lease whose renewals keep the keys bound to it alive.
//
// Watches end on their own every `watchSeconds` (the server's timeout) and resume from the last
// event seen; one the server has not ended a few seconds past that is taken for dead (the
// connection can hang without an error) and handed back to the informer to re-list, as is a
// lost connection or a `410 Gone`. Each of those re-lists is counted by reason.
import { randomBytes } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { KubeObject } from '../api/types.js';
import { objectKey } from '../store/objects.js';
import {
  StoreWatchError,
  deliver,
  type KeyValue,
  type ListResult,
  type PutOptions,
  type Store,
  type SwapOptions,
  type SwapResult,
  type Watch,
  type WatchEvent,
  type WatchHandlers,
} from '../store/store.js';
import { OperationError, errorMessage } from '../util/errors.js';
import { AccessRefusedError, ApiStatusError, type KubeClient, type WatchStream } from './client.js';
import {
  BOUND_ANNOTATION,
  DEFAULT_SOURCE_NAMESPACE,
  KEY_ANNOTATION,
  RAW_KEY_LABEL,
  VALUE_ANNOTATION,
  locate,
  rawKeyName,
  resourcePath,
} from './keys.js';
import { kindInfo } from '../api/kinds.js';

export interface KubeStoreOptions {
  /** Where podnet's own Leases (plain keys, store leases) live. */
  namespace?: string;
  /** Seconds a watch runs before the server ends it and it resumes. */
  watchSeconds?: number;
  /** Where to count re-lists (`podnet_kube_relists_total`). */
  metrics?: Registry;
  /**
   * Told when the API server refuses our credentials or a permission: the process cannot do its
   * job and should say so and stop rather than retry for ever.
   */
  onRefused?: (err: AccessRefusedError) => void;
}

interface ObjectList {
  metadata: { resourceVersion?: string };
  items: KubeObject[];
}

const LEASES = kindInfo('Lease');
const NAMESPACES = kindInfo('Namespace');
/** How long past the server's own timeout a silent watch is given before it counts as dead. */
const STALL_GRACE_SECONDS = 5;

export class KubeStore implements Store {
  readonly url: string;
  private readonly namespace: string;
  private readonly watchSeconds: number;
  private readonly relists?: Counter<'reason'>;
  private readonly watches = new Set<WatchStream>();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: KubeStoreOptions = {},
  ) {
    this.url = `kubernetes:${client.server}`;
    this.namespace = opts.namespace ?? DEFAULT_SOURCE_NAMESPACE;
    this.watchSeconds = opts.watchSeconds ?? 15;
    if (opts.metrics) {
      this.relists = new Counter({
        name: 'podnet_kube_relists_total',
        help: 'Watches of the Kubernetes API that had to list again, by reason (expired, lost, stalled)',
        labelNames: ['reason'],
        registers: [opts.metrics],
      });
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const loc = locate(key);
    if (loc.type === 'raw') return this.getRaw(key);
    if (!loc.name) return undefined;
    const obj = await this.read<KubeObject>(resourcePath(loc.kind, loc.namespace, loc.name));
    return obj && objectKv(obj, loc.kind.kind);
  }

  async revision(): Promise<number> {
    // One namespace is enough: a list's resourceVersion is the cluster's current revision.
    const list = await this.call<ObjectList>('GET', `${resourcePath(NAMESPACES)}?limit=1`);
    return Number(list.metadata.resourceVersion ?? 0);
  }

  async list(prefix: string): Promise<ListResult> {
    const loc = locate(prefix);
    if (loc.type === 'raw') {
      const { items, revision } = await this.listRaw();
      return { items: items.filter((kv) => kv.key.startsWith(prefix)), revision };
    }
    const list = await this.call<ObjectList>('GET', resourcePath(loc.kind, loc.namespace));
    return {
      items: list.items.map((o) => objectKv(o, loc.kind.kind, loc.kind.apiVersion)),
      revision: Number(list.metadata.resourceVersion ?? 0),
    };
  }

  async create(key: string, value: string, opts?: PutOptions): Promise<number | undefined> {
    const r = await this.compareAndSwap(key, value, 0, opts);
    return r.ok ? r.revision : undefined;
  }

  async update(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: PutOptions,
  ): Promise<number | undefined> {
    const r = await this.compareAndSwap(key, value, expectedRevision, opts);
    return r.ok ? r.revision : undefined;
  }

  async compareAndSwap(
    key: string,
    value: string,
    expectedRevision: number,
    opts?: SwapOptions,
  ): Promise<SwapResult> {
    if (opts?.unchanged?.length) {
      // An update at a resourceVersion checks that object alone.
      throw new OperationError(
        `store ${this.url}: a write conditional on other keys is not possible through the Kubernetes API`,
      );
    }
    const loc = locate(key);
    if (loc.type === 'raw') {
      const wanted = this.rawObject(key, value, opts?.lease);
      return this.swap(key, wanted, LEASES, this.namespace, expectedRevision);
    }
    const wanted = JSON.parse(value) as KubeObject;
    return this.swap(key, wanted, loc.kind, loc.namespace, expectedRevision);
  }

  async put(key: string, value: string, opts?: PutOptions): Promise<number> {
    for (;;) {
      const current = await this.get(key);
      const r = await this.compareAndSwap(key, value, current?.modRevision ?? 0, opts);
      if (r.ok) return r.revision;
    }
  }

  async delete(key: string, expectedRevision?: number): Promise<boolean> {
    const loc = locate(key);
    const path =
      loc.type === 'raw'
        ? resourcePath(LEASES, this.namespace, rawKeyName(key))
        : resourcePath(loc.kind, loc.namespace, loc.name);
    const body =
      expectedRevision === undefined
        ? undefined
        : { preconditions: { resourceVersion: String(expectedRevision) } };
    try {
      await this.call('DELETE', path, body);
      return true;
    } catch (err) {
      if (err instanceof ApiStatusError && (err.code === 404 || err.code === 409)) return false;
      throw err;
    }
  }

  watch(prefix: string, fromRevision: number, handlers: WatchHandlers): Watch {
    const loc = locate(prefix);
    const path =
      loc.type === 'raw'
        ? `${resourcePath(LEASES, this.namespace)}?labelSelector=${encodeURIComponent(RAW_KEY_LABEL)}&`
        : `${resourcePath(loc.kind, loc.namespace)}?`;
    const toEvent = (type: string, obj: KubeObject): WatchEvent | undefined => {
      const kv =
        loc.type === 'raw' ? rawKv(obj) : objectKv(obj, loc.kind.kind, loc.kind.apiVersion);
      if (!kv || !kv.key.startsWith(prefix)) return undefined;
      if (type === 'DELETED') {
        return { type: 'delete', key: kv.key, modRevision: kv.modRevision };
      }
      return { type: 'put', kv };
    };
    let stream: WatchStream | undefined;
    let stall: NodeJS.Timeout | undefined;
    let cancelled = false;
    const fail = (reason: 'expired' | 'lost' | 'stalled', err: StoreWatchError): void => {
      if (cancelled) return;
      cancelled = true;
      this.relists?.inc({ reason });
      handlers.onError(err);
    };
    const start = async (after: number): Promise<void> => {
      // From "now": the current revision of the collection, read the cheapest way.
      if (after < 0) {
        try {
          after = (await this.list(prefix)).revision;
        } catch (err) {
          return fail('lost', new StoreWatchError('error', errorMessage(err)));
        }
      }
      if (cancelled) return;
      let last = after;
      const timeout = this.watchSeconds;
      const url = `${path}watch=1&allowWatchBookmarks=true&resourceVersion=${after}&timeoutSeconds=${timeout}`;
      stall = setTimeout(
        () => {
          this.drop(stream);
          fail(
            'stalled',
            new StoreWatchError(
              'error',
              `watch ${prefix}: nothing from the API server for ${timeout + STALL_GRACE_SECONDS}s`,
            ),
          );
        },
        (timeout + STALL_GRACE_SECONDS) * 1000,
      );
      stream = this.client.watch(
        url,
        (event) => {
          if (cancelled) return;
          const obj = event.object as KubeObject & Partial<{ code: number; message: string }>;
          if (event.type === 'ERROR') {
            this.drop(stream);
            clearTimeout(stall);
            const gone = obj.code === 410;
            return fail(
              gone ? 'expired' : 'lost',
              new StoreWatchError(gone ? 'compacted' : 'error', `watch ${prefix}: ${obj.message}`),
            );
          }
          last = Number(obj.metadata?.resourceVersion ?? last);
          if (event.type === 'BOOKMARK') return;
          const ev = toEvent(event.type, obj);
          if (ev) deliver(handlers, [ev]);
        },
        (err) => {
          clearTimeout(stall);
          this.drop(stream);
          if (cancelled) return;
          // The server ended the watch on time: carry on from the last event.
          if (!err) return void start(last);
          if (err instanceof AccessRefusedError) this.opts.onRefused?.(err);
          const gone = err instanceof ApiStatusError && err.code === 410;
          fail(
            gone ? 'expired' : 'lost',
            new StoreWatchError(gone ? 'compacted' : 'error', errorMessage(err)),
          );
        },
      );
      this.watches.add(stream);
    };
    void start(fromRevision > 0 ? fromRevision - 1 : -1);
    return {
      cancel: async () => {
        cancelled = true;
        clearTimeout(stall);
        this.drop(stream);
      },
    };
  }

  async grantLease(ttlSeconds: number): Promise<string> {
    const name = `podnet-lease-${randomBytes(8).toString('hex')}`;
    await this.call('POST', resourcePath(LEASES, this.namespace), {
      apiVersion: LEASES.apiVersion,
      kind: 'Lease',
      metadata: { name, namespace: this.namespace },
      spec: { holderIdentity: name, leaseDurationSeconds: ttlSeconds, renewTime: microTime() },
    });
    return name;
  }

  async keepAlive(lease: string): Promise<void> {
    const path = resourcePath(LEASES, this.namespace, lease);
    const current = await this.read<KubeObject & { kind: 'Lease' }>(path);
    if (!current || expired(current)) {
      throw new OperationError(`store lease ${lease} has expired`);
    }
    current.spec = { ...current.spec, renewTime: microTime() };
    await this.call('PUT', path, current);
  }

  async revokeLease(lease: string): Promise<void> {
    const { items } = await this.listRaw();
    await Promise.all(items.filter((kv) => kv.lease === lease).map((kv) => this.delete(kv.key)));
    await this.call('DELETE', resourcePath(LEASES, this.namespace, lease)).catch((err: unknown) => {
      if (!(err instanceof ApiStatusError && err.code === 404)) throw err;
    });
  }

  async compact(): Promise<void> {
    throw new OperationError(
      'the Kubernetes API keeps its own history: compaction is the API server’s to do',
    );
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.close();
    this.watches.clear();
  }

  private drop(stream: WatchStream | undefined): void {
    if (!stream) return;
    stream.close();
    this.watches.delete(stream);
  }

  /** A request whose refusal also goes to `onRefused`. */
  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await this.client.call<T>(method, path, body);
    } catch (err) {
      if (err instanceof AccessRefusedError) this.opts.onRefused?.(err);
      throw err;
    }
  }

  /** GET, with 404 as undefined. */
  private async read<T>(path: string): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', path);
    } catch (err) {
      if (err instanceof ApiStatusError && err.code === 404) return undefined;
      throw err;
    }
  }

  /**
   * Creates (expected 0) or updates at a resourceVersion, then writes the status the object
   * carries through its own subresource, as the API keeps the two apart.
   */
  private async swap(
    key: string,
    wanted: KubeObject,
    kind: ReturnType<typeof kindInfo>,
    namespace: string | undefined,
    expected: number,
  ): Promise<SwapResult> {
    const name = wanted.metadata.name;
    const body = structuredClone(wanted);
    let written: KubeObject;
    try {
      if (expected === 0) {
        delete body.metadata.resourceVersion;
        written = await this.call('POST', resourcePath(kind, namespace), body);
      } else {
        body.metadata.resourceVersion = String(expected);
        written = await this.call('PUT', resourcePath(kind, namespace, name), body);
      }
    } catch (err) {
      if (err instanceof ApiStatusError && [404, 409].includes(err.code)) {
        const current = await this.get(key);
        // A plain key whose store lease ran out is absent, though its Lease is still there.
        if (expected === 0 && !current && err.code === 409 && locate(key).type === 'raw') {
          await this.delete(key);
          return this.swap(key, wanted, kind, namespace, expected);
        }
        return { ok: false, current };
      }
      throw err;
    }
    const status = (wanted as { status?: unknown }).status;
    if (status !== undefined && JSON.stringify(status) !== JSON.stringify(statusOf(written))) {
      try {
        written = await this.call('PUT', `${resourcePath(kind, namespace, name)}/status`, {
          ...written,
          status,
        });
      } catch (err) {
        if (!(err instanceof ApiStatusError && err.code === 404)) throw err;
      }
    }
    return { ok: true, revision: Number(written.metadata.resourceVersion) };
  }

  private rawObject(key: string, value: string, lease?: string): KubeObject {
    const annotations: Record<string, string> = {
      [KEY_ANNOTATION]: key,
      [VALUE_ANNOTATION]: value,
    };
    if (lease) annotations[BOUND_ANNOTATION] = lease;
    return {
      apiVersion: LEASES.apiVersion,
      kind: 'Lease',
      metadata: {
        name: rawKeyName(key),
        namespace: this.namespace,
        labels: { [RAW_KEY_LABEL]: 'true' },
        annotations,
      },
      spec: {},
    } as KubeObject;
  }

  private async getRaw(key: string): Promise<KeyValue | undefined> {
    const path = resourcePath(LEASES, this.namespace, rawKeyName(key));
    const obj = await this.read<KubeObject>(path);
    const kv = obj && rawKv(obj);
    if (!kv?.lease) return kv;
    const lease = await this.read<KubeObject & { kind: 'Lease' }>(
      resourcePath(LEASES, this.namespace, kv.lease),
    );
    return lease && !expired(lease) ? kv : undefined;
  }

  /** Every live plain key: those bound to a missing or expired store lease are gone. */
  private async listRaw(): Promise<ListResult> {
    const list = await this.call<ObjectList>('GET', resourcePath(LEASES, this.namespace));
    const live = new Set(
      list.items
        .filter((o) => !o.metadata.labels?.[RAW_KEY_LABEL] && !expired(o as LeaseObject))
        .map((o) => o.metadata.name),
    );
    const items = list.items
      .map((o) => rawKv(o))
      .filter((kv): kv is KeyValue => kv !== undefined && (!kv.lease || live.has(kv.lease)));
    return { items, revision: Number(list.metadata.resourceVersion ?? 0) };
  }
}

type LeaseObject = Extract<KubeObject, { kind: 'Lease' }>;

/** A Lease past its last renewal plus its duration. */
function expired(lease: LeaseObject): boolean {
  const { renewTime, leaseDurationSeconds } = lease.spec ?? {};
  if (!renewTime || leaseDurationSeconds === undefined) return false;
  return Date.parse(renewTime) + leaseDurationSeconds * 1000 < Date.now();
}

function microTime(): string {
  return new Date().toISOString().replace(/Z$/, '000Z');
}

function statusOf(obj: KubeObject): unknown {
  return (obj as { status?: unknown }).status;
}

/** An object as a store key-value pair (list items come without their kind). */
function objectKv(obj: KubeObject, kind: KubeObject['kind'], apiVersion?: string): KeyValue {
  const full = { ...obj, kind, apiVersion: obj.apiVersion ?? apiVersion } as KubeObject;
  const revision = Number(obj.metadata.resourceVersion);
  const metadata = { ...full.metadata };
  delete metadata.resourceVersion;
  return {
    key: objectKey(full.kind, full.metadata.namespace, full.metadata.name),
    value: JSON.stringify({ ...full, metadata }),
    modRevision: revision,
    createRevision: revision,
  };
}

/** The plain key a Lease holds, if it holds one. */
function rawKv(obj: KubeObject): KeyValue | undefined {
  const a = obj.metadata.annotations ?? {};
  const key = a[KEY_ANNOTATION];
  if (!obj.metadata.labels?.[RAW_KEY_LABEL] || key === undefined) return undefined;
  const revision = Number(obj.metadata.resourceVersion);
  return {
    key,
    value: a[VALUE_ANNOTATION] ?? '',
    modRevision: revision,
    createRevision: revision,
    ...(a[BOUND_ANNOTATION] ? { lease: a[BOUND_ANNOTATION] } : {}),
  };
}
