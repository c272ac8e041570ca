// Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` turns a get,
// list or watch event into a Table with the columns of the resource (kubectl prints it as is;
// `-o wide` shows the priority-1 columns too).
import type { KubeObject } from '../api/types.js';
import { groupVersion, type ColumnDefinition, type Resource } from './resources.js';

export interface Table {
  kind: 'Table';
  apiVersion: string;
  metadata: { resourceVersion?: string; continue?: string };
  columnDefinitions: ColumnDefinition[];
  rows: { cells: (string | number)[]; object: unknown }[];
}

/** What the client asked for, from its Accept header: a Table (which version), or plain JSON. */
export function wantsTable(accept: string | undefined): 'v1' | 'v1beta1' | undefined {
  const versions = new Set<string>();
  for (const part of (accept ?? '').split(',')) {
    const params = new Map(
      part
        .split(';')
        .slice(1)
        .map((p) => p.trim().split('=') as [string, string]),
    );
    if (params.get('as') === 'Table' && params.get('g') === 'meta.k8s.io') {
      versions.add(params.get('v') ?? '');
    }
  }
  if (versions.has('v1')) return 'v1';
  if (versions.has('v1beta1')) return 'v1beta1';
  return undefined;
}

/** `includeObject=None|Metadata|Object` (Metadata is kubectl's and the default). */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function toTable(
  resource: Resource,
  objects: readonly KubeObject[],
  opts: {
    version?: 'v1' | 'v1beta1';
    resourceVersion?: string;
    continueToken?: string;
    include?: IncludeObject;
    now?: Date;
  } = {},
): Table {
  const now = opts.now ?? new Date();
  const apiVersion = `meta.k8s.io/${opts.version ?? 'v1'}`;
  return {
    kind: 'Table',
    apiVersion,
    metadata: {
      ...(opts.resourceVersion !== undefined ? { resourceVersion: opts.resourceVersion } : {}),
      ...(opts.continueToken ? { continue: opts.continueToken } : {}),
    },
    columnDefinitions: resource.columns.map(({ name, type, format, description, priority }) => ({
      name,
      type,
      format,
      description,
      priority,
    })),
    rows: objects.map((o) => ({
      cells: resource.columns.map((c) => (c.cell as (x: KubeObject, n: Date) => string)(o, now)),
      object: rowObject(resource, o, apiVersion, opts.include ?? 'Metadata'),
    })),
  };
}

function rowObject(
  resource: Resource,
  obj: KubeObject,
  apiVersion: string,
  include: IncludeObject,
) {
  if (include === 'None') return undefined;
  if (include === 'Object')
    return { ...obj, apiVersion: groupVersion(resource), kind: resource.kind };
  return { kind: 'PartialObjectMetadata', apiVersion, metadata: obj.metadata };
}
