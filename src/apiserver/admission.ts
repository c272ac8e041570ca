// A request body becomes an object the registry can write: the same validation `podnet apply`
// uses, its problems as one Status cause per field, and unknown fields handled as the
// request's `fieldValidation` asks.
import { validateObject } from '../api/validate.js';
import type { ClusterNetwork, KubeObject } from '../api/types.js';
import { UsageError } from '../util/errors.js';
import { isKubernetesField } from './strict.js';
import { groupVersion, type Resource } from './resources.js';
import { ApiError, badRequest, invalid, notFound, type StatusCause } from './status.js';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export function parseFieldValidation(value: string | null): FieldValidation {
  if (value === null || value === '') return 'Warn';
  const v = ['Strict', 'Warn', 'Ignore'].find((x) => x.toLowerCase() === value.toLowerCase());
  if (!v) throw badRequest(`fieldValidation: must be Strict, Warn or Ignore, got "${value}"`);
  return v as FieldValidation;
}

export interface CheckOptions {
  resource: Resource;
  /** The namespace in the request's path (namespaced resources). */
  namespace?: string;
  network: ClusterNetwork['spec'];
  fieldValidation: FieldValidation;
  /**
   * Unknown fields the stored object already had: a patch that keeps them is not refused.
   * Asked only when the body has unknown fields, since working them out validates the stored
   * object a second time.
   */
  alreadyUnknown?: () => ReadonlySet<string>;
}

export interface Checked {
  object: KubeObject;
  /** For the `Warning` response header. */
  warnings: string[];
}

/** `Pod shop/web: spec.containers[0].name: must be ...` → the field and its message. */
export function causeOf(problem: string): StatusCause {
  const rest = /^(?:[A-Z][A-Za-z]* \S+?|object): (.+)$/s.exec(problem)?.[1] ?? problem;
  const m = /^([^\s:]+): (.+)$/s.exec(rest);
  if (!m || m[1] === '(document)') return { message: m?.[2] ?? rest };
  return { field: m[1], message: m[2]! };
}

export function unknownFieldOf(warning: string): string | undefined {
  return /^(?:[A-Z][A-Za-z]* \S+?|object): (\S+): unknown field/.exec(warning)?.[1];
}

export function checkObject(raw: unknown, opts: CheckOptions): Checked {
  const { resource } = opts;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw badRequest(`the body must be a ${resource.kind} object`);
  }
  const body = withoutNulls(raw) as Record<string, unknown> & {
    metadata?: { namespace?: string };
  };
  const gv = groupVersion(resource);
  body.apiVersion ??= gv;
  body.kind ??= resource.kind;
  if (body.apiVersion !== gv || body.kind !== resource.kind) {
    throw badRequest(
      `the body is a ${String(body.kind)} of ${String(body.apiVersion)}, not a ${resource.kind} of ${gv}`,
    );
  }
  if (resource.namespaced && opts.namespace !== undefined) {
    const given = body.metadata?.namespace;
    if (given !== undefined && given !== opts.namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
  }
  // `body` is withoutNulls' copy, made for this check alone.
  const r = validateObject(body, { network: opts.network, namespace: opts.namespace, owned: true });
  const given = r.warnings
    .map(unknownFieldOf)
    .filter((f): f is string => f !== undefined && !isKubernetesField(f));
  const kept = given.length > 0 ? opts.alreadyUnknown?.() : undefined;
  const unknown = kept ? given.filter((f) => !kept.has(f)) : given;
  if (unknown.length > 0 && opts.fieldValidation === 'Strict') {
    throw badRequest(
      `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: strict decoding error: ${unknown.map((f) => `unknown field "${f}"`).join(', ')}`,
    );
  }
  const name = String((body.metadata as { name?: unknown } | undefined)?.name ?? '');
  if (r.errors.length > 0 || !r.object) {
    throw invalid(resource.kind, resource.group, name, r.errors.map(causeOf));
  }
  const warnings =
    opts.fieldValidation === 'Warn' ? unknown.map((f) => `unknown field "${f}"`) : [];
  return { object: r.object, warnings };
}

/**
 * A copy without null members: in a Kubernetes body, null means "not set" (kubectl sends
 * `creationTimestamp: null`), which podnet's schemas say by leaving the field out.
 */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out;
}

/** The unknown fields an object as stored carries (kept from a lenient write). */
export function unknownFields(obj: KubeObject, network: ClusterNetwork['spec']): Set<string> {
  const r = validateObject(obj, { network });
  return new Set(r.warnings.map(unknownFieldOf).filter((f): f is string => f !== undefined));
}

/** Admission's refusals (UsageError lines) as the Status Kubernetes would answer with. */
export function admissionError(err: UsageError, resource: Resource, name: string): ApiError {
  const missing = /namespace "([^"]+)" not found/.exec(err.message);
  if (missing) return notFound({ resource: 'namespaces', group: '', name: missing[1] });
  const lines = err.message.split('\n').filter((l) => l !== '');
  return invalid(resource.kind, resource.group, name, lines.map(causeOf));
}
