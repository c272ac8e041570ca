// OpenAPI v3 for the kinds served, made from the same zod schemas validation uses, so
// `kubectl explain pod.spec.nodeName` describes exactly what the server accepts. One document
// per group/version, listed at /openapi/v3 with a hash clients cache by.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SCHEMAS } from '../api/validate.js';
import { RESOURCES, groupVersion, type Resource } from './resources.js';

/** `api/v1`, `apis/podnet.io/v1`: how /openapi/v3 names a group/version. */
function pathOf(r: Pick<Resource, 'group' | 'version'>): string {
  return r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`;
}

/** Kubernetes' naming of schema components: io.k8s.api.core.v1.Pod, io.podnet.v1.BGPPeer. */
export function componentName(r: Resource): string {
  if (!r.group) return `io.k8s.api.core.${r.version}.${r.kind}`;
  return `${r.group.split('.').reverse().join('.')}.${r.version}.${r.kind}`;
}

/**
 * One kind's JSON schema (OpenAPI 3.0 flavour). `input` describes what a client may send (fields
 * with defaults are optional), `output` what the server stores.
 */
export function kindSchema(
  r: Resource,
  io: 'input' | 'output' = 'output',
): Record<string, unknown> {
  const json = z.toJSONSchema(SCHEMAS[r.kind], {
    target: 'openapi-3.0',
    unrepresentable: 'any',
    io,
  }) as Record<string, unknown>;
  delete json.$schema;
  return {
    description: `${r.kind} (${groupVersion(r)}), as podnet stores and validates it.`,
    ...json,
    'x-kubernetes-group-version-kind': [{ group: r.group, kind: r.kind, version: r.version }],
  };
}

/** Where one object lives: clients find a resource's kind through this path's operation. */
export function objectPath(r: Resource): string {
  const base = `/${pathOf(r)}`;
  return r.namespaced
    ? `${base}/namespaces/{namespace}/${r.plural}/{name}`
    : `${base}/${r.plural}/{name}`;
}

/**
 * Only the read is described: a client finding no patch operation computes patches from the
 * kind it knows (strategic merge for core kinds, merge patch otherwise), as it always has.
 */
function readOperation(r: Resource) {
  return {
    operationId: `read${r.kind}`,
    'x-kubernetes-action': 'get',
    'x-kubernetes-group-version-kind': { group: r.group, kind: r.kind, version: r.version },
    responses: {
      '200': {
        description: 'OK',
        content: {
          'application/json': { schema: { $ref: `#/components/schemas/${componentName(r)}` } },
        },
      },
    },
  };
}

export interface OpenApiV3 {
  /** The index at /openapi/v3. */
  index: { paths: Record<string, { serverRelativeURL: string }> };
  /** Each document by its path under /openapi/v3/ (e.g. `api/v1`), as JSON text. */
  documents: Map<string, string>;
}

export function openApiV3(): OpenApiV3 {
  const byPath = new Map<string, Resource[]>();
  for (const r of RESOURCES) byPath.set(pathOf(r), [...(byPath.get(pathOf(r)) ?? []), r]);
  const documents = new Map<string, string>();
  const index: OpenApiV3['index'] = { paths: {} };
  for (const [path, resources] of byPath) {
    const doc = JSON.stringify({
      openapi: '3.0.0',
      info: { title: 'podnet', version: resources[0]!.version },
      paths: Object.fromEntries(resources.map((r) => [objectPath(r), { get: readOperation(r) }])),
      components: {
        schemas: Object.fromEntries(resources.map((r) => [componentName(r), kindSchema(r)])),
      },
    });
    documents.set(path, doc);
    const hash = createHash('sha512').update(doc).digest('hex').slice(0, 32).toUpperCase();
    index.paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
  }
  return { index, documents };
}
