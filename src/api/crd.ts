// podnet's own kinds as Kubernetes CustomResourceDefinitions (apiextensions.k8s.io/v1), their
// OpenAPI v3 schemas derived from the same zod schemas podnet validates with, so the two cannot
// drift apart.
import { z } from 'zod';
import { kindInfo } from './kinds.js';
import {
  adminNetworkPolicySchema,
  baselineAdminNetworkPolicySchema,
  bgpPeerSchema,
  clusterNetworkSchema,
} from './schema.js';

/** One node of a structural OpenAPI v3 schema, as CustomResourceDefinitions take it. */
export interface OpenApiSchema {
  type?: string;
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema;
  items?: OpenApiSchema;
  required?: string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
}

type JsonSchema = Record<string, unknown>;

/**
 * A JSON Schema from zod, made structural: Kubernetes rejects `additionalProperties` beside
 * `properties` (unknown fields are pruned instead), `const`, and `propertyNames`; and it compiles
 * `pattern` with Go's RE2, which has no lookahead, so such patterns are left to podnet's own
 * validation.
 */
function structural(node: JsonSchema): OpenApiSchema {
  const out: OpenApiSchema = {};
  if (typeof node.type === 'string') out.type = node.type;
  if (node.const !== undefined) out.enum = [node.const];
  if (Array.isArray(node.enum)) out.enum = node.enum as unknown[];
  for (const key of ['minimum', 'maximum', 'minItems', 'maxItems'] as const) {
    if (typeof node[key] === 'number') out[key] = node[key];
  }
  if (typeof node.pattern === 'string' && !node.pattern.includes('(?')) {
    out.pattern = node.pattern;
  }
  if (node.properties) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties as Record<string, JsonSchema>).map(([k, v]) => [
        k,
        structural(v),
      ]),
    );
  } else if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    out.additionalProperties = structural(node.additionalProperties as JsonSchema);
  }
  if (node.items) out.items = structural(node.items as JsonSchema);
  if (Array.isArray(node.required) && node.required.length > 0) {
    out.required = node.required as string[];
  }
  return out;
}

/** The schema of a podnet.io object: its `spec` from podnet's own, the envelope Kubernetes'. */
export function openApiSchemaOf(spec: z.ZodType, specRequired: boolean): OpenApiSchema {
  return {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: structural(z.toJSONSchema(spec, { io: 'input' }) as JsonSchema),
    },
    ...(specRequired ? { required: ['spec'] } : {}),
  };
}

const CRD_KINDS = {
  ClusterNetwork: {
    spec: clusterNetworkSchema.shape.spec,
    specRequired: false,
    description: "the cluster's network: address ranges, backend, proxy mode, routing",
  },
  BGPPeer: {
    spec: bgpPeerSchema.shape.spec,
    specRequired: true,
    description: 'a BGP router outside the cluster that matching nodes peer with',
  },
  AdminNetworkPolicy: {
    spec: adminNetworkPolicySchema.shape.spec,
    specRequired: true,
    description:
      "a cluster administrator's rules for the subject's pods, judged before NetworkPolicy by priority",
  },
  BaselineAdminNetworkPolicy: {
    spec: baselineAdminNetworkPolicySchema.shape.spec,
    specRequired: true,
    description: 'the default rules for pods no NetworkPolicy selects (one, named default)',
  },
} as const;

export type CrdKind = keyof typeof CRD_KINDS;
export const CRD_KIND_NAMES = Object.keys(CRD_KINDS) as CrdKind[];

/**
 * The CustomResourceDefinition that serves `kind` on a Kubernetes cluster: podnet.io/v1 for
 * podnet's own kinds, policy.networking.k8s.io/v1alpha1 for the admin policies (where the
 * upstream project's own CRDs, if installed, serve the same shape).
 */
export function customResourceDefinition(kind: CrdKind): Record<string, unknown> {
  const info = kindInfo(kind);
  const [group, version] = info.apiVersion.split('/') as [string, string];
  const schema = openApiSchemaOf(CRD_KINDS[kind].spec, CRD_KINDS[kind].specRequired);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${info.plural}.${group}` },
    spec: {
      group,
      names: {
        kind,
        listKind: `${kind}List`,
        plural: info.plural,
        singular: kind.toLowerCase(),
        ...(info.aliases.length > 2 ? { shortNames: info.aliases.slice(2) } : {}),
      },
      scope: info.namespaced ? 'Namespaced' : 'Cluster',
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { description: CRD_KINDS[kind].description, ...schema } },
        },
      ],
    },
  };
}
