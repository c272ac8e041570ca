// The OpenAPI v2 protobuf: the wire encoding byte for byte, and the document reading back with
// the kinds, the merge keys and the patch parameters kubectl 1.20 looks for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { message } from '../../src/apiserver/protobuf-encode.js';
import { openApiV2 } from '../../src/apiserver/openapi-v2.js';

test('a message encodes as the wire format: the smallest document kubectl accepts', () => {
  const doc = message([
    { no: 1, string: '2.0' },
    {
      no: 2,
      message: message([
        { no: 1, string: 'podnet' },
        { no: 2, string: 'v1' },
      ]),
    },
  ]);
  assert.deepEqual(doc, Buffer.from('0a03322e30120c0a06706f646e657412027631', 'hex'));
  assert.deepEqual(message([{ no: 3, varint: 300 }]), Buffer.from([0x18, 0xac, 0x02]));
});

/** Reads the length-delimited fields of one message: field number → their payloads. */
function fields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let at = 0;
  const varint = () => {
    let n = 0;
    let shift = 1;
    for (;;) {
      const b = buf[at++]!;
      n += (b & 0x7f) * shift;
      shift *= 0x80;
      if (b < 0x80) return n;
    }
  };
  while (at < buf.length) {
    const key = varint();
    assert.equal(key % 8, 2, 'only length-delimited fields are used');
    const len = varint();
    out.set(Math.floor(key / 8), [
      ...(out.get(Math.floor(key / 8)) ?? []),
      buf.subarray(at, at + len),
    ]);
    at += len;
  }
  return out;
}

/** Named entries (NamedSchema, NamedAny, NamedPathItem) → name → value. */
function byName(entries: Buffer[]): Map<string, Buffer> {
  return new Map(
    entries.map((entry) => {
      const f = fields(entry);
      return [f.get(1)![0]!.toString(), f.get(2)![0]!];
    }),
  );
}

/** A list wrapper (Definitions, Properties: field 1; Paths: field 2) → name → value. */
function named(list: Buffer): Map<string, Buffer> {
  const f = fields(list);
  return byName(f.get(1) ?? f.get(2) ?? []);
}

test('the v2 document carries each kind with its fields, merge keys and patch parameters', () => {
  const doc = fields(openApiV2());
  assert.equal(doc.get(1)![0]!.toString(), '2.0');
  const definitions = named(doc.get(9)![0]!);
  const pod = fields(definitions.get('io.k8s.api.core.v1.Pod')!);
  const gvk = byName(pod.get(31)!);
  assert.equal(
    fields(gvk.get('x-kubernetes-group-version-kind')!).get(2)![0]!.toString(),
    '[{"group":"","kind":"Pod","version":"v1"}]',
  );
  const spec = fields(named(pod.get(25)![0]!).get('spec')!);
  const specFields = named(spec.get(25)![0]!);
  assert.ok(specFields.has('nodeName'));
  assert.ok(specFields.has('restartPolicy'), 'Kubernetes fields podnet keeps are accepted');
  const containers = fields(specFields.get('containers')!);
  const extensions = containers.get(31)!.map((e) => fields(e).get(1)![0]!.toString());
  assert.deepEqual(extensions, ['x-kubernetes-patch-strategy', 'x-kubernetes-patch-merge-key']);

  const paths = named(doc.get(8)![0]!);
  const podPath = fields(paths.get('/api/v1/namespaces/{namespace}/pods/{name}')!);
  const parameters = fields(podPath.get(8)![0]!).get(8)!;
  const names = parameters.map((p) => {
    const query = fields(fields(fields(p).get(1)![0]!).get(2)![0]!).get(3)![0]!;
    return fields(query).get(4)![0]!.toString();
  });
  assert.deepEqual(names, ['dryRun', 'fieldValidation']);
});
