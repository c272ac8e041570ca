// `?watch=1`: changes to a resource as one JSON event per line on a response held open. From
// the caller's resourceVersion on, or (none or "0") the current objects as ADDED first; an
// object that stops or starts matching the selectors is DELETED or ADDED, as Kubernetes does;
// a revision no longer kept ends the watch with an ERROR event holding 410 Expired. Watchers
// share store watches (shared-watch.ts), and each event is decoded once and encoded once per
// way of rendering it, however many watchers send it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KubeObject } from '../api/types.js';
import { decodeObject, kindPrefix, listObjects } from '../store/objects.js';
import type { KeyValue, Store, WatchEvent } from '../store/store.js';
import { selects, type Selection } from './query.js';
import { groupVersion, type Resource } from './resources.js';
import type { SharedWatches } from './shared-watch.js';
import { storedJson } from './stored-json.js';
import { expired, internalError, badRequest, type Status } from './status.js';
import { toTable, type IncludeObject } from './table.js';

export interface WatchRequest {
  store: Store;
  watches: SharedWatches;
  resource: Resource;
  namespace?: string;
  selection: Selection;
  resourceVersion?: string;
  bookmarks: boolean;
  timeoutSeconds?: number;
  table?: 'v1' | 'v1beta1';
  include?: IncludeObject;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

const BOOKMARK_EVERY_MS = 60_000;
/** Kubernetes holds a watch 30-60 minutes before the client starts a new one. */
const DEFAULT_TIMEOUT_S = 1800;

export async function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  w: WatchRequest,
): Promise<void> {
  let from: number;
  const initial: KubeObject[] = [];
  let lastRevision: number;
  if (w.resourceVersion === undefined || w.resourceVersion === '' || w.resourceVersion === '0') {
    const list = await listObjects(w.store, w.resource.kind, w.namespace);
    initial.push(...list.items.filter((o) => selects(w.resource, w.selection, o)));
    from = list.revision + 1;
    lastRevision = list.revision;
  } else {
    if (!/^\d+$/.test(w.resourceVersion)) {
      throw badRequest(`resourceVersion: must be a number, got "${w.resourceVersion}"`);
    }
    lastRevision = Number(w.resourceVersion);
    from = lastRevision + 1;
  }

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' });
  // Out now, so that shared events can go straight to the socket as ready-made chunks.
  res.flushHeaders();
  let open = true;
  const send = (type: EventType, object: unknown) => {
    if (open) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const render = (obj: KubeObject) =>
    w.table ? toTable(w.resource, [obj], { version: w.table, include: w.include }) : obj;
  for (const obj of initial) send('ADDED', render(obj));
  const rendering = w.table ? `${w.table}/${w.include ?? ''}` : 'json';
  const sendSeen = (ev: WatchEvent, seen: Seen) => {
    if (!open) return;
    const encoded = encodings(ev);
    const key = `${seen.type} ${rendering}`;
    let line = encoded.get(key);
    if (line === undefined) {
      const object = w.table
        ? JSON.stringify(render(seen.object))
        : storedJson(seen.key, seen.value, seen.revision);
      line = framed(`{"type":"${seen.type}","object":${object}}\n`);
      encoded.set(key, line);
    }
    // The same bytes to every watcher's socket: the response's own write would frame,
    // measure and encode the line again for each of them, and cork the socket to do it.
    const socket = res.socket;
    if (res.chunkedEncoding && socket && !socket.destroyed) socket.write(line.chunk);
    else res.write(line.line);
  };

  // Set once the store watch and the timers exist; an early finish runs it when they do.
  const cleanup: { stop?: () => void } = {};
  const finish = () => {
    if (!open) return;
    open = false;
    cleanup.stop?.();
    res.end();
  };
  const fail = (status: Status) => {
    send('ERROR', status);
    finish();
  };

  const watch = w.watches.watch(kindPrefix(w.resource.kind, w.namespace), from, {
    onEvents(events) {
      for (const ev of events) {
        const seen = translate(w, ev);
        lastRevision = ev.type === 'put' ? ev.kv.modRevision : ev.modRevision;
        if (seen) sendSeen(ev, seen);
      }
    },
    onError(err) {
      fail(
        err.reason === 'compacted'
          ? expired(`too old resource version: ${from - 1} (${err.message})`).status
          : internalError(err.message).status,
      );
    },
  });
  const bookmarks = setInterval(() => {
    if (!w.bookmarks) return;
    send('BOOKMARK', {
      kind: w.resource.kind,
      apiVersion: groupVersion(w.resource),
      metadata: { resourceVersion: String(lastRevision) },
    });
  }, BOOKMARK_EVERY_MS);
  const timeout = setTimeout(finish, (w.timeoutSeconds ?? DEFAULT_TIMEOUT_S) * 1000);
  cleanup.stop = () => {
    clearInterval(bookmarks);
    clearTimeout(timeout);
    void watch.cancel();
  };
  if (!open) cleanup.stop();
  req.on('close', finish);
  res.on('close', finish);
}

/** What a watcher sends for an event: its type, and the object as decoded and as stored. */
interface Seen {
  type: EventType;
  object: KubeObject;
  key: string;
  value: string;
  revision: number;
}

/** A store event as the watcher sees it through its selectors, or undefined when unseen. */
function translate(w: WatchRequest, ev: WatchEvent): Seen | undefined {
  const matches = (o: KubeObject | undefined) =>
    o !== undefined && selects(w.resource, w.selection, o);
  const { object, prev } = decodedEvent(ev);
  if (ev.type === 'delete') {
    return prev && matches(prev)
      ? {
          type: 'DELETED',
          object: prev,
          key: ev.key,
          value: ev.prevValue!,
          revision: ev.modRevision,
        }
      : undefined;
  }
  if (!object) return undefined;
  const now = matches(object);
  const before = prev !== undefined ? matches(prev) : false;
  const type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined;
  if (!type) return undefined;
  return { type, object, key: ev.kv.key, value: ev.kv.value, revision: ev.kv.modRevision };
}

// Shared by every watcher the event reaches: read-only once made.
const decodedEvents = new WeakMap<WatchEvent, { object?: KubeObject; prev?: KubeObject }>();
const encodedEvents = new WeakMap<WatchEvent, Map<string, Framed>>();

/** An event's line as bytes, alone and as one chunk of a chunked HTTP/1.1 body. */
interface Framed {
  line: Buffer;
  chunk: Buffer;
}

function framed(text: string): Framed {
  const line = Buffer.from(text);
  const chunk = Buffer.concat([Buffer.from(`${line.length.toString(16)}\r\n`), line, CRLF]);
  return { line, chunk };
}
const CRLF = Buffer.from('\r\n');

function decodedEvent(ev: WatchEvent): { object?: KubeObject; prev?: KubeObject } {
  let out = decodedEvents.get(ev);
  if (!out) {
    out =
      ev.type === 'delete'
        ? { prev: decoded(ev.key, ev.prevValue, ev.modRevision) }
        : {
            object: decoded(ev.kv.key, ev.kv.value, ev.kv.modRevision),
            prev: decoded(ev.kv.key, ev.prevValue, ev.kv.modRevision),
          };
    decodedEvents.set(ev, out);
  }
  return out;
}

/** The event's lines as sent, by type and rendering. */
function encodings(ev: WatchEvent): Map<string, Framed> {
  let out = encodedEvents.get(ev);
  if (!out) {
    out = new Map();
    encodedEvents.set(ev, out);
  }
  return out;
}

function decoded(key: string, value: string | undefined, revision: number) {
  if (value === undefined) return undefined;
  const kv: KeyValue = { key, value, modRevision: revision, createRevision: 0 };
  try {
    return decodeObject(kv);
  } catch {
    return undefined;
  }
}
