// The list verb: a page of a resource's objects in `namespace/name` order, read once from the
// store or from the resource's watch cache (watch-cache.ts). An object is decoded only when
// something needs it (a selector, a Table, a delete), and rendered as JSON once (stored-json.ts);
// the answer streams those bytes in chunks as it goes.
import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../api/types.js';
import { kindInfo } from '../api/kinds.js';
import { decodeObject, kindPrefix } from '../store/objects.js';
import type { KeyValue, Store } from '../store/store.js';
import { decodeContinue, encodeContinue, selects, type Selection } from './query.js';
import { groupVersion, type Resource } from './resources.js';
import { storedJson } from './stored-json.js';

/** One listed object: where it sorts, its stored key-value, and the object when decoded. */
export class Listed {
  private decoded?: KubeObject;
  private text?: string;
  constructor(
    readonly position: string,
    readonly kv: KeyValue,
  ) {}
  /** Shared by every list this object is in: read it, never change it. */
  get object(): KubeObject {
    return (this.decoded ??= decodeObject(this.kv));
  }
  json(): string {
    return (this.text ??= storedJson(this.kv.key, this.kv.value, this.kv.modRevision));
  }
}

export interface ListPage {
  items: Listed[];
  revision: number;
  continueToken?: string;
}

/**
 * How a key becomes its position, `namespace/name` (cluster-scoped: `/name`), as objects are
 * keyed: worked out once per list, not per object.
 */
export function positionOfKey(resource: Resource): (key: string) => string {
  const skip = kindPrefix(resource.kind).length;
  return kindInfo(resource.kind).namespaced
    ? (key) => key.slice(skip)
    : (key) => `/${key.slice(skip)}`;
}

export async function listPage(
  store: Store,
  resource: Resource,
  namespace: string | undefined,
  sel: Selection,
  limit: number | undefined,
  continueToken: string | null,
): Promise<ListPage> {
  const { items, revision } = await store.list(kindPrefix(resource.kind, namespace));
  const positionOf = positionOfKey(resource);
  const listed = items.map((kv) => new Listed(positionOf(kv.key), kv));
  return pageOf(resource, { items: listed, revision }, sel, limit, continueToken);
}

/** The objects of a list as read (from the store or the cache), at one revision. */
export interface ListRead {
  items: readonly Listed[];
  revision: number;
}

/** The page the request asks for out of everything listed. */
export function pageOf(
  resource: Resource,
  read: ListRead,
  sel: Selection,
  limit: number | undefined,
  continueToken: string | null,
): ListPage {
  const { items, revision } = read;
  const selecting = sel.labels.length > 0 || sel.fields.length > 0;
  const after = continueToken ? decodeContinue(continueToken).after : undefined;
  // One pass, one array: a list of every pod is the API's biggest answer.
  const matching: Listed[] = [];
  let ordered = true;
  for (const listed of items) {
    if (after !== undefined && listed.position <= after) continue;
    if (selecting && !selects(resource, sel, listed.object)) continue;
    if (ordered && matching.length > 0 && matching.at(-1)!.position > listed.position) {
      ordered = false;
    }
    matching.push(listed);
  }
  // The store lists in key order, which is position order; sorting is for a store that does not.
  if (!ordered) {
    matching.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  }
  if (limit === undefined || limit <= 0 || matching.length <= limit) {
    return { items: matching, revision };
  }
  const page = matching.slice(0, limit);
  return { items: page, revision, continueToken: encodeContinue(revision, page.at(-1)!.position) };
}

function listHead(resource: Resource, revision: number, continueToken: string | undefined) {
  return {
    kind: `${resource.kind}List`,
    apiVersion: groupVersion(resource),
    metadata: {
      resourceVersion: String(revision),
      ...(continueToken ? { continue: continueToken } : {}),
    },
  };
}

/** A list of objects already decoded (what deletecollection answers with). */
export function listBody(resource: Resource, revision: number, items: unknown[]) {
  return { ...listHead(resource, revision, undefined), items };
}

/**
 * Big enough that TLS records stay full (16 KiB each), small enough that sending starts early
 * and that no chunk is a large object: a string or buffer over about 128 KiB gets pages of its
 * own, from V8's large-object space and from malloc's mmap, that are faulted in on each list
 * and returned after it. Chunks of 256 KiB made a 10,000-pod list cost the server about twice
 * the CPU that 32 KiB chunks do (bench/apiserver.ts).
 */
export const CHUNK_CHARS = 32 * 1024;

/** The page as a `<Kind>List`, written in chunks (chunked transfer encoding). */
export function sendList(res: ServerResponse, resource: Resource, page: ListPage): void {
  const head = JSON.stringify(listHead(resource, page.revision, page.continueToken));
  res.writeHead(200, { 'Content-Type': 'application/json' });
  let chunk = `${head.slice(0, -1)},"items":[`;
  page.items.forEach((item, i) => {
    chunk += i === 0 ? item.json() : `,${item.json()}`;
    if (chunk.length >= CHUNK_CHARS) {
      res.write(chunk);
      chunk = '';
    }
  });
  res.end(`${chunk}]}`);
}
