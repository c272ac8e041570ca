// Errors as the Kubernetes API reports them: a `Status` object whose `reason` and `code` tell
// clients what happened (kubectl prints `Error from server (Reason): message`, and for Invalid
// one `* field: message` line per cause).
import type { RequestAttributes } from './request-attributes.js';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** A request refused the Kubernetes way; the server answers with `status` as the body. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): Status {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** What an error is about: the resource (plural) and group, and the object's name. */
export interface Subject {
  resource: string;
  group: string;
  name?: string;
}

function qualified(s: Subject): string {
  return s.group ? `${s.resource}.${s.group}` : s.resource;
}

export function notFound(s: Subject): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(s)} "${s.name ?? ''}" not found`, {
    name: s.name,
    group: s.group,
    kind: s.resource,
  });
}

export function alreadyExists(s: Subject): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(s)} "${s.name ?? ''}" already exists`, {
    name: s.name,
    group: s.group,
    kind: s.resource,
  });
}

export function conflict(s: Subject, why: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(s)} "${s.name ?? ''}": ${why}`,
    { name: s.name, group: s.group, kind: s.resource },
  );
}

/** 422 with one cause per field; `kind` is the object's Kind, as kubectl prints it. */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]) {
  const list = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const what = group ? `${kind}.${group}` : kind;
  return new ApiError(422, 'Invalid', `${what} "${name}" is invalid: ${list.join(', ')}`, {
    name,
    group,
    kind,
    causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', ...c })),
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'Unauthorized');
}

/**
 * 403 in Kubernetes' words: what was refused (resource, with its subresource, and scope; or
 * the path of a non-resource request) and to whom.
 */
export function forbidden(user: string, request: RequestAttributes): ApiError {
  if (!('resource' in request)) {
    return new ApiError(
      403,
      'Forbidden',
      `forbidden: User "${user}" cannot ${request.verb} path "${request.path}"`,
      {},
    );
  }
  const s: Subject = { resource: request.resource, group: request.group, name: request.name };
  const resource = request.subresource
    ? `${request.resource}/${request.subresource}`
    : request.resource;
  const scope = request.namespace
    ? `in the namespace "${request.namespace}"`
    : 'at the cluster scope';
  return new ApiError(
    403,
    'Forbidden',
    `${qualified(s)}${s.name ? ` "${s.name}"` : ''} is forbidden: User "${user}" cannot ${request.verb} resource "${resource}" in API group "${s.group}" ${scope}`,
    { name: s.name, group: s.group, kind: s.resource },
  );
}

export function methodNotAllowed(message: string): ApiError {
  return new ApiError(405, 'MethodNotAllowed', message);
}

export function unsupportedMediaType(contentType: string): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json${contentType.startsWith('application/apply-patch') ? ' (server-side apply is not supported: use client-side apply, kubectl apply without --server-side)' : ''}`,
  );
}

/** The revision a watch or continue token names is no longer kept: re-list. */
export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`);
}
