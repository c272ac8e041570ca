// Manifests in and out: multi-document YAML or JSON (JSON is YAML), `kind: List` unwrapped,
// every document checked before anything is used, so a caller can write all or nothing.
import { parseAllDocuments, stringify } from 'yaml';
import { UsageError } from '../util/errors.js';
import type { ClusterNetwork, KubeObject } from './types.js';
import { validateObject } from './validate.js';

export interface ParsedManifests {
  objects: KubeObject[];
  warnings: string[];
}

/** The raw documents of a manifest text, in order, empty documents skipped. */
export function parseDocuments(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const err = doc.errors[0];
    if (err) {
      const line = err.linePos?.[0].line;
      const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new UsageError(
        `${source}${line ? ` line ${line}` : ''}: not valid YAML or JSON: ${what}`,
      );
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (isList(value)) out.push(...value.items);
    else out.push(value);
  }
  return out;
}

function isList(v: unknown): v is { items: unknown[] } {
  const o = v as { kind?: unknown; items?: unknown };
  return (
    typeof o === 'object' &&
    typeof o.kind === 'string' &&
    o.kind.endsWith('List') &&
    Array.isArray(o.items)
  );
}

/**
 * Parses and validates every document. Throws one UsageError listing every problem (one line
 * each) when any document is bad; warnings (unknown fields) come back to be shown.
 */
export function parseManifests(
  text: string,
  source: string,
  opts: { network?: ClusterNetwork['spec']; namespace?: string } = {},
): ParsedManifests {
  const docs = parseDocuments(text, source);
  if (docs.length === 0) throw new UsageError(`${source}: no objects in it`);
  // A ClusterNetwork in the same manifest decides the ranges the others are checked against.
  const network = networkFrom(docs) ?? opts.network;
  const objects: KubeObject[] = [];
  const warnings: string[] = [];
  const errors: string[] = [];
  docs.forEach((doc, i) => {
    const label = docs.length > 1 ? `${source} document ${i + 1}` : source;
    const r = validateObject(doc, { network, namespace: opts.namespace, label });
    warnings.push(...r.warnings);
    errors.push(...r.errors);
    if (r.object) objects.push(r.object);
  });
  if (errors.length > 0) {
    throw new UsageError(errors.join('\n'));
  }
  return { objects, warnings };
}

function networkFrom(docs: unknown[]): ClusterNetwork['spec'] | undefined {
  for (const doc of docs) {
    const r = validateObject(doc);
    if (r.object?.kind === 'ClusterNetwork') return r.object.spec;
  }
  return undefined;
}

/** YAML out, documents separated by `---` as kubectl prints them. */
export function toYaml(objects: unknown[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}
