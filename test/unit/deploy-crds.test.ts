// The CustomResourceDefinitions in deploy/kubernetes/ are podnet's own schemas in OpenAPI form:
// the file must say exactly what src/api generates, so the two cannot drift apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments, stringify } from 'yaml';
import { CRD_KIND_NAMES, customResourceDefinition, type OpenApiSchema } from '../../src/api/crd.js';
import { bgpPeerSchema, clusterNetworkSchema } from '../../src/api/schema.js';

const CRDS_FILE = new URL('../../../deploy/kubernetes/00-crds.yaml', import.meta.url).pathname;

test('deploy/kubernetes/00-crds.yaml is what podnet generates from its own schemas', () => {
  const inFile = parseAllDocuments(readFileSync(CRDS_FILE, 'utf8')).map((d) => d.toJS() as unknown);
  const generated = CRD_KIND_NAMES.map(customResourceDefinition);
  assert.deepEqual(
    inFile,
    generated,
    `${CRDS_FILE} differs from src/api; its documents should read:\n` +
      generated.map((crd) => `---\n${stringify(crd)}`).join(''),
  );
});

function specSchemaOf(kind: 'ClusterNetwork' | 'BGPPeer'): OpenApiSchema {
  const crd = customResourceDefinition(kind) as {
    spec: { versions: { schema: { openAPIV3Schema: OpenApiSchema } }[] };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
}

test('every spec field podnet validates is in the CRD schema, with its bounds', () => {
  const network = specSchemaOf('ClusterNetwork');
  assert.deepEqual(
    Object.keys(network.properties!).sort(),
    Object.keys(clusterNetworkSchema.shape.spec.shape).sort(),
  );
  assert.deepEqual(network.properties!.nodeSubnetPrefix, {
    type: 'integer',
    minimum: 8,
    maximum: 30,
  });
  assert.deepEqual(network.properties!.backend!.enum, [
    'host-gw',
    'vxlan',
    'ipip',
    'auto',
    'cloud',
    'wireguard',
  ]);
  assert.equal(network.required, undefined, 'every ClusterNetwork field has a default');

  const peer = specSchemaOf('BGPPeer');
  assert.deepEqual(
    Object.keys(peer.properties!).sort(),
    Object.keys(bgpPeerSchema.shape.spec.shape).sort(),
  );
  assert.deepEqual(peer.required, ['peerIP', 'asNumber']);
  assert.deepEqual(peer.properties!.nodeSelector, {
    type: 'object',
    additionalProperties: { type: 'string' },
  });
});

/** Kubernetes refuses a CRD schema that is not structural; these are the rules it checks. */
function structuralProblems(node: OpenApiSchema, path: string): string[] {
  const problems: string[] = [];
  if (node.type === undefined) problems.push(`${path}: no type`);
  if (node.properties && node.additionalProperties) {
    problems.push(`${path}: both properties and additionalProperties`);
  }
  if (node.pattern?.includes('(?')) problems.push(`${path}: pattern RE2 cannot compile`);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    problems.push(...structuralProblems(child, `${path}.${key}`));
  }
  if (node.additionalProperties) {
    problems.push(...structuralProblems(node.additionalProperties, `${path}.*`));
  }
  if (node.items) problems.push(...structuralProblems(node.items, `${path}[]`));
  return problems;
}

test('the CRD schemas are structural, as apiextensions.k8s.io/v1 requires', () => {
  for (const kind of CRD_KIND_NAMES) {
    const crd = customResourceDefinition(kind) as {
      spec: { versions: { schema: { openAPIV3Schema: OpenApiSchema } }[] };
    };
    assert.deepEqual(structuralProblems(crd.spec.versions[0]!.schema.openAPIV3Schema, kind), []);
  }
});
