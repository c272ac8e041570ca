// The three patch forms kubectl sends: JSON patch (RFC 6902, `kubectl patch --type json`),
// JSON merge patch (RFC 7386: `label`, `annotate`, `--type merge`, apply to podnet.io kinds)
// and strategic merge patch (apply to core kinds), whose lists merge element by element on
// the key Kubernetes declares for each list. Pure functions over plain JSON values.
import { cloneJson } from '../api/clone.js';
import { badRequest, ApiError } from './status.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return cloneJson(v);
}

// ---- JSON patch ----

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`json patch: path "${path}" must start with "/"`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The container holding the pointer's last segment, and that segment. */
function parentOf(doc: Json, segments: string[], path: string): [JsonObject | Json[], string] {
  let node: Json = doc;
  for (const seg of segments.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(node)
      ? node[Number(seg)]
      : isObject(node)
        ? node[seg]
        : undefined;
    if (next === undefined) throw badRequest(`json patch: path "${path}" does not exist`);
    node = next;
  }
  if (!isObject(node) && !Array.isArray(node)) {
    throw badRequest(`json patch: path "${path}" is not inside an object or a list`);
  }
  return [node, segments[segments.length - 1]!];
}

function index(list: Json[], seg: string, path: string, forAdd: boolean): number {
  if (forAdd && seg === '-') return list.length;
  const i = Number(seg);
  if (!/^\d+$/.test(seg) || i > list.length || (!forAdd && i === list.length)) {
    throw badRequest(`json patch: index "${seg}" of "${path}" is out of range`);
  }
  return i;
}

function getAt(doc: Json, path: string): Json {
  const segs = pointer(path);
  if (segs.length === 0) return doc;
  const [parent, last] = parentOf(doc, segs, path);
  const v = Array.isArray(parent) ? parent[index(parent, last, path, false)] : parent[last];
  if (v === undefined) throw badRequest(`json patch: path "${path}" does not exist`);
  return v;
}

function removeAt(doc: Json, path: string): Json {
  const segs = pointer(path);
  const [parent, last] = parentOf(doc, segs, path);
  if (Array.isArray(parent)) return parent.splice(index(parent, last, path, false), 1)[0]!;
  if (!(last in parent)) throw badRequest(`json patch: path "${path}" does not exist`);
  const v = parent[last]!;
  delete parent[last];
  return v;
}

function addAt(doc: Json, path: string, value: Json): Json {
  const segs = pointer(path);
  if (segs.length === 0) return value;
  const [parent, last] = parentOf(doc, segs, path);
  if (Array.isArray(parent)) parent.splice(index(parent, last, path, true), 0, value);
  else parent[last] = value;
  return doc;
}

export function applyJsonPatch(doc: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw badRequest('json patch: the body must be a list of operations');
  let out = clone(doc) as Json;
  for (const raw of patch as unknown[]) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw badRequest('json patch: every operation needs "op" and "path"');
    }
    const op = raw as unknown as Operation;
    switch (op.op) {
      case 'add':
        out = addAt(out, op.path, clone(op.value ?? null));
        break;
      case 'remove':
        removeAt(out, op.path);
        break;
      case 'replace':
        getAt(out, op.path);
        if (pointer(op.path).length === 0) out = clone(op.value ?? null);
        else {
          removeAt(out, op.path);
          out = addAt(out, op.path, clone(op.value ?? null));
        }
        break;
      case 'move': {
        const v = removeAt(out, op.from ?? '');
        out = addAt(out, op.path, v);
        break;
      }
      case 'copy':
        out = addAt(out, op.path, clone(getAt(out, op.from ?? '')));
        break;
      case 'test':
        if (JSON.stringify(getAt(out, op.path)) !== JSON.stringify(op.value)) {
          throw new ApiError(422, 'Invalid', `json patch: test of "${op.path}" failed`);
        }
        break;
      default:
        throw badRequest(`json patch: unknown operation "${op.op}"`);
    }
  }
  return out;
}

// ---- JSON merge patch ----

export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(doc) ? clone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v) as Json;
  }
  return out;
}

// ---- strategic merge patch ----

/**
 * The lists of a kind that merge element by element: a path (list indices left out) to the
 * field naming an element, or '' for lists of plain values merged as sets.
 */
export type MergeKeys = Readonly<Record<string, string>>;

const DIRECTIVE = '$patch';
const ORDER = '$setElementOrder/';
const DELETE_FROM = '$deleteFromPrimitiveList/';
const RETAIN = '$retainKeys';

export function applyStrategicMergePatch(doc: unknown, patch: unknown, keys: MergeKeys): unknown {
  if (!isObject(patch)) throw badRequest('strategic merge patch: the body must be an object');
  return mergeObject(isObject(doc) ? clone(doc) : {}, patch, '', keys) ?? {};
}

function mergeObject(
  doc: JsonObject,
  patch: JsonObject,
  path: string,
  keys: MergeKeys,
): JsonObject | undefined {
  const directive = patch[DIRECTIVE];
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const out = clone(patch);
    delete out[DIRECTIVE];
    return out;
  }
  const out = doc;
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === RETAIN || k.startsWith(ORDER)) continue;
    if (k.startsWith(DELETE_FROM)) {
      const field = k.slice(DELETE_FROM.length);
      const drop = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      const list = out[field];
      if (Array.isArray(list)) out[field] = list.filter((x) => !drop.has(JSON.stringify(x)));
      continue;
    }
    const sub = path ? `${path}.${k}` : k;
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v) && sub in keys) {
      const order = patch[`${ORDER}${k}`];
      out[k] = mergeList(
        Array.isArray(out[k]) ? out[k] : [],
        v,
        sub,
        keys,
        Array.isArray(order) ? order : undefined,
      );
    } else if (isObject(v)) {
      const merged = mergeObject(isObject(out[k]) ? out[k] : {}, v, sub, keys);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = clone(v);
    }
  }
  const retain = patch[RETAIN];
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

function mergeList(
  doc: Json[],
  patch: Json[],
  path: string,
  keys: MergeKeys,
  order: Json[] | undefined,
): Json[] {
  const key = keys[path]!;
  if (patch.some((p) => isObject(p) && p[DIRECTIVE] === 'replace')) {
    return patch.filter((p) => !(isObject(p) && p[DIRECTIVE] === 'replace')).map(clone);
  }
  if (key === '') {
    const out = [...doc];
    for (const v of patch) {
      if (!out.some((x) => JSON.stringify(x) === JSON.stringify(v))) out.push(clone(v));
    }
    return sortBy(out, order, (x) => JSON.stringify(x));
  }
  const out = [...doc];
  const keyOf = (x: Json) => (isObject(x) ? JSON.stringify(x[key]) : undefined);
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) {
      throw badRequest(`strategic merge patch: every element of ${path} needs "${key}"`);
    }
    const at = out.findIndex((x) => keyOf(x) === keyOf(item));
    if (item[DIRECTIVE] === 'delete') {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    if (at >= 0) out[at] = mergeObject(clone(out[at] as JsonObject), item, path, keys) ?? {};
    else out.push(mergeObject({}, item, path, keys) ?? {});
  }
  return sortBy(out, order, keyOf);
}

/** `$setElementOrder`: the listed elements in that order, the others after them as they were. */
function sortBy(list: Json[], order: Json[] | undefined, id: (x: Json) => string | undefined) {
  if (!order) return list;
  const rank = new Map(order.map((o, i) => [id(o) ?? JSON.stringify(o), i]));
  const place = (x: Json) => rank.get(id(x) ?? '') ?? order.length;
  return [...list].sort((a, b) => place(a) - place(b));
}
