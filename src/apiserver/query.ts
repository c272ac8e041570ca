// What a resource request selects and how it wants the answer, read from its query string.
import type { KubeObject } from '../api/types.js';
import { fieldValue, selectableFields, type Resource } from './resources.js';
import {
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldRequirement,
  type LabelRequirement,
} from './selectors.js';
import { badRequest } from './status.js';

export interface Selection {
  labels: LabelRequirement[];
  fields: FieldRequirement[];
}

export function selectionOf(resource: Resource, query: URLSearchParams): Selection {
  return {
    labels: parseLabelSelector(query.get('labelSelector')),
    fields: parseFieldSelector(query.get('fieldSelector'), selectableFields(resource)),
  };
}

export function selects(resource: Resource, sel: Selection, obj: KubeObject): boolean {
  return (
    matchesLabels(sel.labels, obj.metadata.labels) &&
    matchesFields(sel.fields, (f) => fieldValue(resource, obj, f))
  );
}

/** Go's ParseBool, as clients send booleans (`watch=1`, `watch=true`, `watch=True`). */
export function flag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null) return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False', ''].includes(v)) return false;
  throw badRequest(`${name}: must be true or false, got "${v}"`);
}

export function integer(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`${name}: must be a whole number, got "${v}"`);
  return Number(v);
}

/** `dryRun=All` writes nothing; no other value exists. */
export function dryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw badRequest(`dryRun: must be All, got "${v}"`);
  return values.length > 0;
}

/** A continue token: where the previous page ended, as `namespace/name`. */
export function encodeContinue(revision: number, after: string): string {
  return Buffer.from(JSON.stringify({ rv: revision, after })).toString('base64url');
}

export function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString()) as {
      rv: unknown;
      after: unknown;
    };
    if (typeof v.rv === 'number' && typeof v.after === 'string')
      return { rv: v.rv, after: v.after };
  } catch {
    // falls through to the refusal below
  }
  throw badRequest('continue: not a token this server handed out');
}
