// Request bodies in Kubernetes' protobuf encoding, turned into the JSON the rest of the server
// reads. kubectl 1.32's typed `create` commands (`create serviceaccount`, `create rolebinding`,
// `create token`, `create namespace`, `auth can-i`, `auth whoami`) send only this, and client-go does not fall back to JSON
// on a 415. One table entry per message names its fields; fields not in the table are skipped,
// as a protobuf reader must.
import { unsupportedMediaType } from './status.js';

type Field =
  | { name: string; type: 'string' | 'int' | 'bool' | 'bytes'; repeated?: boolean }
  | { name: string; type: 'map' }
  | { name: string; type: 'time' }
  | { name: string; type: 'message'; message: string; repeated?: boolean };

type Message = Record<number, Field>;

const s = (name: string, repeated = false): Field => ({ name, type: 'string', repeated });
const i = (name: string): Field => ({ name, type: 'int' });
const b = (name: string): Field => ({ name, type: 'bool' });
const m = (name: string, message: string, repeated = false): Field => ({
  name,
  type: 'message',
  message,
  repeated,
});

/** Field numbers from Kubernetes' generated.proto files for the messages decoded here. */
const MESSAGES: Record<string, Message> = {
  ObjectMeta: {
    1: s('name'),
    2: s('generateName'),
    3: s('namespace'),
    5: s('uid'),
    6: s('resourceVersion'),
    7: i('generation'),
    8: { name: 'creationTimestamp', type: 'time' },
    11: { name: 'labels', type: 'map' },
    12: { name: 'annotations', type: 'map' },
    13: m('ownerReferences', 'OwnerReference', true),
    14: s('finalizers', true),
  },
  OwnerReference: {
    1: s('kind'),
    3: s('name'),
    4: s('uid'),
    5: s('apiVersion'),
    6: b('controller'),
    7: b('blockOwnerDeletion'),
  },
  ObjectReference: {
    1: s('kind'),
    2: s('namespace'),
    3: s('name'),
    4: s('uid'),
    5: s('apiVersion'),
    6: s('resourceVersion'),
    7: s('fieldPath'),
  },
  LocalObjectReference: { 1: s('name') },
  LabelSelector: {
    1: { name: 'matchLabels', type: 'map' },
    2: m('matchExpressions', 'LabelSelectorRequirement', true),
  },
  LabelSelectorRequirement: { 1: s('key'), 2: s('operator'), 3: s('values', true) },
  'v1/ServiceAccount': {
    1: m('metadata', 'ObjectMeta'),
    2: m('secrets', 'ObjectReference', true),
    3: m('imagePullSecrets', 'LocalObjectReference', true),
    4: b('automountServiceAccountToken'),
  },
  'v1/Namespace': {
    1: m('metadata', 'ObjectMeta'),
    2: m('spec', 'NamespaceSpec'),
  },
  NamespaceSpec: { 1: s('finalizers', true) },
  PolicyRule: {
    1: s('verbs', true),
    2: s('apiGroups', true),
    3: s('resources', true),
    4: s('resourceNames', true),
    5: s('nonResourceURLs', true),
  },
  AggregationRule: { 1: m('clusterRoleSelectors', 'LabelSelector', true) },
  Subject: { 1: s('kind'), 2: s('apiGroup'), 3: s('name'), 4: s('namespace') },
  RoleRef: { 1: s('apiGroup'), 2: s('kind'), 3: s('name') },
  'rbac.authorization.k8s.io/v1/Role': {
    1: m('metadata', 'ObjectMeta'),
    2: m('rules', 'PolicyRule', true),
  },
  'rbac.authorization.k8s.io/v1/ClusterRole': {
    1: m('metadata', 'ObjectMeta'),
    2: m('rules', 'PolicyRule', true),
    3: m('aggregationRule', 'AggregationRule'),
  },
  'rbac.authorization.k8s.io/v1/RoleBinding': {
    1: m('metadata', 'ObjectMeta'),
    2: m('subjects', 'Subject', true),
    3: m('roleRef', 'RoleRef'),
  },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    1: m('metadata', 'ObjectMeta'),
    2: m('subjects', 'Subject', true),
    3: m('roleRef', 'RoleRef'),
  },
  'authentication.k8s.io/v1/TokenRequest': {
    1: m('metadata', 'ObjectMeta'),
    2: m('spec', 'TokenRequestSpec'),
  },
  TokenRequestSpec: {
    1: s('audiences', true),
    3: m('boundObjectRef', 'BoundObjectReference'),
    4: i('expirationSeconds'),
  },
  BoundObjectReference: { 1: s('kind'), 2: s('apiVersion'), 3: s('name'), 4: s('uid') },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: m('metadata', 'ObjectMeta'),
    2: m('spec', 'SelfSubjectAccessReviewSpec'),
  },
  SelfSubjectAccessReviewSpec: {
    1: m('resourceAttributes', 'ResourceAttributes'),
    2: m('nonResourceAttributes', 'NonResourceAttributes'),
  },
  ResourceAttributes: {
    1: s('namespace'),
    2: s('verb'),
    3: s('group'),
    4: s('version'),
    5: s('resource'),
    6: s('subresource'),
    7: s('name'),
  },
  NonResourceAttributes: { 1: s('path'), 2: s('verb') },
  'authentication.k8s.io/v1/SelfSubjectReview': { 1: m('metadata', 'ObjectMeta') },
};

/** runtime.Unknown: the envelope every protobuf body comes in, after the `k8s\0` magic. */
const UNKNOWN: Message = { 1: m('typeMeta', 'TypeMeta'), 2: { name: 'raw', type: 'bytes' } };
const TYPE_META: Message = { 1: s('apiVersion'), 2: s('kind') };
const MAGIC = Buffer.from('k8s\0', 'latin1');

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  }
  bytes(): Buffer {
    const length = this.varint();
    if (this.pos + length > this.buf.length) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`wire type ${wireType} not supported`);
  }
}

function decodeMessage(buf: Buffer, message: Message): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
  while (!r.done) {
    const tag = r.varint();
    const field = message[Math.floor(tag / 8)];
    const wireType = tag & 7;
    if (!field) {
      r.skip(wireType);
      continue;
    }
    const value = decodeField(r, field, wireType);
    // Go writes every plain string and number, set or not: empty means unset, as JSON's omitempty.
    if (value === undefined || value === '' || (value === 0 && field.type === 'int')) continue;
    if (field.type === 'map') {
      const [k, v] = value as [string, string];
      out[field.name] = { ...(out[field.name] as object | undefined), [k]: v };
    } else if ('repeated' in field && field.repeated) {
      out[field.name] = [...((out[field.name] as unknown[] | undefined) ?? []), value];
    } else out[field.name] = value;
  }
  return out;
}

function decodeField(r: Reader, field: Field, wireType: number): unknown {
  switch (field.type) {
    case 'int':
      return r.varint();
    case 'bool':
      return r.varint() !== 0;
    case 'string':
      return r.bytes().toString('utf8');
    case 'bytes':
      return r.bytes();
    case 'map': {
      const entry = decodeMessage(r.bytes(), { 1: s('key'), 2: s('value') });
      return [entry.key ?? '', entry.value ?? ''];
    }
    case 'time': {
      const t = decodeMessage(r.bytes(), { 1: i('seconds'), 2: i('nanos') });
      const seconds = (t.seconds as number | undefined) ?? 0;
      // The zero Time is how Go writes "not set" (JSON null).
      if (seconds === 0) return undefined;
      return new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    }
    case 'message':
      if (wireType !== 2) throw new Error(`${field.name}: expected a message`);
      return decodeMessage(
        r.bytes(),
        field.message === 'TypeMeta' ? TYPE_META : MESSAGES[field.message]!,
      );
  }
}

/**
 * The JSON form of a protobuf body; a kind without an entry here is refused with 415, as a
 * server that does not speak protobuf for it would.
 */
export function decodeProtobufBody(body: Buffer, contentType: string): unknown {
  if (!body.subarray(0, 4).equals(MAGIC)) throw unsupportedMediaType(contentType);
  let envelope: Record<string, unknown>;
  try {
    envelope = decodeMessage(body.subarray(4), UNKNOWN);
  } catch {
    throw unsupportedMediaType(contentType);
  }
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const message = MESSAGES[`${typeMeta.apiVersion}/${typeMeta.kind}`];
  if (!message || !(envelope.raw instanceof Buffer)) throw unsupportedMediaType(contentType);
  try {
    return {
      apiVersion: typeMeta.apiVersion,
      kind: typeMeta.kind,
      ...decodeMessage(envelope.raw, message),
    };
  } catch {
    throw unsupportedMediaType(contentType);
  }
}
