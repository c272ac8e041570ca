// Kubernetes' LabelSelector: matching a set of labels, and the text kubectl prints for it.
import type { LabelSelector, LabelSelectorRequirement } from './types.js';

function requirementHolds(req: LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && values.includes(labels[req.key]!);
    // A label that is missing is "not in" any set, as Kubernetes reads it.
    case 'NotIn':
      return !has || !values.includes(labels[req.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

/** Whether `labels` satisfy every pair and every expression; `{}` matches everything. */
export function selectorMatches(
  selector: LabelSelector,
  labels: Record<string, string> | undefined,
): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every((req) => requirementHolds(req, have));
}

const OPERATOR_TEXT: Record<
  LabelSelectorRequirement['operator'],
  (key: string, values: string) => string
> = {
  In: (key, values) => `${key} in (${values})`,
  NotIn: (key, values) => `${key} notin (${values})`,
  Exists: (key) => key,
  DoesNotExist: (key) => `!${key}`,
};

/** `app=web,tier in (a,b)` as kubectl prints a selector (sorted by key); `<none>` for `{}`. */
export function formatLabelSelector(selector: LabelSelector | undefined): string {
  const parts: [string, string][] = [
    ...Object.entries(selector?.matchLabels ?? {}).map(([key, value]): [string, string] => [
      key,
      `${key}=${value}`,
    ]),
    ...(selector?.matchExpressions ?? []).map((req): [string, string] => [
      req.key,
      OPERATOR_TEXT[req.operator](req.key, [...(req.values ?? [])].sort().join(',')),
    ]),
  ];
  parts.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return parts.length === 0 ? '<none>' : parts.map(([, text]) => text).join(',');
}
