// OpenAPI v2 as the protocol buffer older clients read (kubectl 1.20 asks only for this form):
// the same kind schemas as /openapi/v3, in the gnostic OpenAPIv2 message layout. kubectl finds
// a kind's schema by its x-kubernetes-group-version-kind, explains fields from it and checks
// manifests against it before sending them, so it describes what a client may send. The lists
// that merge by key say so, as Kubernetes' own schemas do: `kubectl apply` reads that to make
// its strategic merge patch, and without it would replace whole lists the server defaulted.
import type { MergeKeys } from './patch.js';
import { RESOURCES, type Resource } from './resources.js';
import { KUBERNETES_FIELDS } from './strict.js';
import { componentName, kindSchema, objectPath } from './openapi.js';
import { message, type Field } from './protobuf-encode.js';

type JsonSchema = Record<string, unknown>;

/** Field numbers of the gnostic messages used here. */
const DOCUMENT = { swagger: 1, info: 2, paths: 8, definitions: 9 } as const;
const PATHS_PATH = 2;
const PATH_ITEM_PATCH = 8;
const OPERATION = { parameters: 8, vendorExtension: 13 } as const;
/** ParametersItem.parameter → Parameter.non_body_parameter → .query_parameter_sub_schema. */
const PARAMETER_CHAIN = [1, 2, 3] as const;
const QUERY_PARAMETER = { in: 2, name: 4, type: 6 } as const;
const INFO = { title: 1, version: 2 } as const;
const SCHEMA = {
  format: 2,
  description: 4,
  pattern: 13,
  required: 19,
  additionalProperties: 21,
  type: 22,
  items: 23,
  properties: 25,
  vendorExtension: 31,
} as const;
/** NamedSchema, NamedAny: name = 1, value = 2; Any: yaml = 2; the list wrappers: 1. */
const NAMED = { name: 1, value: 2 } as const;
const ANY_YAML = 2;
const LIST = 1;

export function openApiV2(): Buffer {
  const definitions = RESOURCES.map((r) =>
    named(componentName(r), schema(clientSchema(r), '', r.mergeKeys ?? {})),
  );
  return message([
    { no: DOCUMENT.swagger, string: '2.0' },
    {
      no: DOCUMENT.info,
      message: message([
        { no: INFO.title, string: 'podnet' },
        { no: INFO.version, string: 'v1' },
      ]),
    },
    { no: DOCUMENT.paths, message: message(RESOURCES.map(patchPath)) },
    { no: DOCUMENT.definitions, message: message(definitions) },
  ]);
}

function named(name: string, value: Buffer): Field {
  return {
    no: LIST,
    message: message([
      { no: NAMED.name, string: name },
      { no: NAMED.value, message: value },
    ]),
  };
}

/**
 * Only the patch operation is described: kubectl looks there for the query parameters a kind
 * accepts, and without `dryRun` refuses `kubectl diff`, without `fieldValidation` checks
 * unknown fields itself instead of leaving that to the server.
 */
function patchPath(r: Resource): Field {
  const parameters: Field[] = ['dryRun', 'fieldValidation'].map((name) => {
    let wrapped = message([
      { no: QUERY_PARAMETER.in, string: 'query' },
      { no: QUERY_PARAMETER.name, string: name },
      { no: QUERY_PARAMETER.type, string: 'string' },
    ]);
    for (const no of [...PARAMETER_CHAIN].reverse()) wrapped = message([{ no, message: wrapped }]);
    return { no: OPERATION.parameters, message: wrapped };
  });
  const gvk = { group: r.group, kind: r.kind, version: r.version };
  const operation = message([
    ...parameters,
    { no: OPERATION.vendorExtension, message: extension('x-kubernetes-group-version-kind', gvk) },
  ]);
  const item = message([{ no: PATH_ITEM_PATCH, message: operation }]);
  return {
    no: PATHS_PATH,
    message: message([
      { no: NAMED.name, string: objectPath(r) },
      { no: NAMED.value, message: item },
    ]),
  };
}

function extension(name: string, value: unknown): Buffer {
  // An extension's value travels as YAML text; JSON is YAML.
  const any = message([{ no: ANY_YAML, string: JSON.stringify(value) }]);
  return message([
    { no: NAMED.name, string: name },
    { no: NAMED.value, message: any },
  ]);
}

/**
 * What a client may send: the kind's input schema, with the Kubernetes fields podnet keeps
 * without reading accepted as any value (the server's strict check accepts them too).
 */
function clientSchema(r: Resource): JsonSchema {
  const s = withoutRequiredMetadata(kindSchema(r, 'input'));
  for (const field of KUBERNETES_FIELDS) acceptAnything(s, field.split(/\.|(?=\[\*\])/));
  return s;
}

/** Walks `spec`, `containers`, `[*]`, `ports`, ...; a path the kind does not have is left. */
function acceptAnything(s: JsonSchema, segments: string[]): void {
  const [head, ...rest] = segments;
  if (head === undefined) return;
  if (head === '[*]') {
    if (typeof s.items === 'object' && s.items !== null)
      acceptAnything(s.items as JsonSchema, rest);
    return;
  }
  const properties = s.properties as Record<string, JsonSchema> | undefined;
  if (!properties) return;
  if (rest.length === 0)
    properties[head] = { description: 'Kept as given; podnet does not read it.' };
  else if (properties[head]) acceptAnything(properties[head], rest);
}

/** An object may be named by generateName instead, as Kubernetes' ObjectMeta allows. */
function withoutRequiredMetadata(s: JsonSchema): JsonSchema {
  const properties = s.properties as Record<string, JsonSchema> | undefined;
  if (!properties?.metadata) return s;
  delete properties.metadata.required;
  return s;
}

/**
 * The one type a v2 schema can say. Unions of one type keep it; an int-or-string (a port
 * number or name) is Kubernetes' `string` with format `int-or-string`; other unions say
 * nothing, so clients accept any value there and the server decides.
 */
function typeOf(s: JsonSchema): { type?: string; format?: string } {
  if (typeof s.type === 'string') return { type: s.type };
  const branches = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (!branches) return {};
  const types = new Set(branches.map((b) => typeOf(b).type));
  if (types.size === 1 && !types.has(undefined)) return { type: [...types][0] };
  if (types.size === 2 && types.has('integer') && types.has('string')) {
    return { type: 'string', format: 'int-or-string' };
  }
  return {};
}

/** `path` names the field as merge keys do: dotted, list elements not counted. */
function schema(s: JsonSchema, path: string, keys: MergeKeys): Buffer {
  const fields: Field[] = [];
  const { type, format } = typeOf(s);
  if (format) fields.push({ no: SCHEMA.format, string: format });
  if (typeof s.description === 'string') {
    fields.push({ no: SCHEMA.description, string: s.description });
  }
  if (typeof s.pattern === 'string') fields.push({ no: SCHEMA.pattern, string: s.pattern });
  for (const name of (s.required as string[] | undefined) ?? []) {
    fields.push({ no: SCHEMA.required, string: name });
  }
  const additional = s.additionalProperties;
  if (typeof additional === 'object' && additional !== null) {
    const item = message([{ no: 1, message: schema(additional as JsonSchema, path, keys) }]);
    fields.push({ no: SCHEMA.additionalProperties, message: item });
  }
  if (type) fields.push({ no: SCHEMA.type, message: message([{ no: LIST, string: type }]) });
  if (typeof s.items === 'object' && s.items !== null) {
    const items = message([{ no: LIST, message: schema(s.items as JsonSchema, path, keys) }]);
    fields.push({ no: SCHEMA.items, message: items });
  }
  const properties = s.properties as Record<string, JsonSchema> | undefined;
  if (properties) {
    const list = Object.entries(properties).map(([name, p]) =>
      named(name, schema(p, path ? `${path}.${name}` : name, keys)),
    );
    fields.push({ no: SCHEMA.properties, message: message(list) });
  }
  const extensions = Object.entries(s).filter(([name]) => name.startsWith('x-'));
  if (path in keys) {
    extensions.push(['x-kubernetes-patch-strategy', 'merge']);
    if (keys[path]) extensions.push(['x-kubernetes-patch-merge-key', keys[path]]);
  }
  for (const [name, value] of extensions) {
    fields.push({ no: SCHEMA.vendorExtension, message: extension(name, value) });
  }
  return message(fields);
}
