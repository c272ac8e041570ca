// Label and field selectors as the Kubernetes API reads them from `labelSelector=` and
// `fieldSelector=`: requirements separated by commas, all of which must hold.
import { badRequest } from './status.js';

export type LabelRequirement =
  { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | '!exists' };

export type FieldRequirement = { field: string; op: '=' | '!='; value: string };

/** Top-level commas only: the ones inside `in (a,b)` belong to the value set. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function checkKey(key: string, text: string): string {
  if (!LABEL_KEY.test(key))
    throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${text}"`);
  return key;
}

function checkValue(value: string, text: string): string {
  if (!LABEL_VALUE.test(value) || value.length > 63) {
    throw badRequest(`unable to parse requirement: invalid label value "${value}" in "${text}"`);
  }
  return value;
}

export function parseLabelSelector(text: string | null | undefined): LabelRequirement[] {
  if (!text) return [];
  return splitTopLevel(text).map((part): LabelRequirement => {
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (set) {
      const values = set[3]!.split(',').map((v) => checkValue(v.trim(), part));
      return { key: checkKey(set[1]!, part), op: set[2] as 'in' | 'notin', values };
    }
    const cmp = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (cmp) {
      const key = checkKey(cmp[1]!, part);
      const value = checkValue(cmp[3]!.trim(), part);
      return { key, op: cmp[2] === '!=' ? 'notin' : 'in', values: [value] };
    }
    if (part.startsWith('!')) return { key: checkKey(part.slice(1).trim(), part), op: '!exists' };
    return { key: checkKey(part, part), op: 'exists' };
  });
}

export function matchesLabels(
  requirements: readonly LabelRequirement[],
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  return requirements.every((r) => {
    const value = labels?.[r.key];
    switch (r.op) {
      case 'exists':
        return value !== undefined;
      case '!exists':
        return value === undefined;
      case 'in':
        return value !== undefined && r.values.includes(value);
      case 'notin':
        return value === undefined || !r.values.includes(value);
    }
  });
}

/**
 * Parses `fieldSelector=`; `supported` lists the fields this resource can be selected by
 * (anything else is refused, as Kubernetes refuses it).
 */
export function parseFieldSelector(
  text: string | null | undefined,
  supported: readonly string[],
): FieldRequirement[] {
  if (!text) return [];
  return splitTopLevel(text).map((part) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1]!;
    if (!supported.includes(field)) {
      throw badRequest(`field label not supported: ${field}`);
    }
    return { field, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() };
  });
}

export function matchesFields(
  requirements: readonly FieldRequirement[],
  fieldOf: (field: string) => string,
): boolean {
  return requirements.every((r) => (fieldOf(r.field) === r.value) === (r.op === '='));
}
