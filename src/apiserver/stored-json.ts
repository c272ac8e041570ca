// Objects go out as the store holds them: the stored JSON with `metadata.resourceVersion`
// spliced in, instead of parsing and re-serialising every object a list or watch sends. Only
// values in the shape the store writes (apiVersion, kind, then metadata, and no
// resourceVersion of their own) are spliced; anything else takes the slow, exact way.
import type { KeyValue } from '../store/store.js';
import { decodeObject } from '../store/objects.js';

const HEAD = /^\{"apiVersion":"[^"\\]*","kind":"[^"\\]*","metadata":\{/;

/** The object stored in `value`, at `revision`, as JSON text. */
export function storedJson(key: string, value: string, revision: number): string {
  const head = HEAD.exec(value);
  if (!head || value.includes('"resourceVersion"')) {
    const kv: KeyValue = { key, value, modRevision: revision, createRevision: 0 };
    return JSON.stringify(decodeObject(kv));
  }
  const at = head[0].length;
  const rv = `"resourceVersion":"${revision}"`;
  return `${value.slice(0, at)}${rv}${value[at] === '}' ? '' : ','}${value.slice(at)}`;
}
