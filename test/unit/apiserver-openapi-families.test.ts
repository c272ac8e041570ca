// The family fields are served in the API server's OpenAPI, so `kubectl explain` describes them
// and strict field validation accepts them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kindSchema } from '../../src/apiserver/openapi.js';
import { RESOURCES } from '../../src/apiserver/resources.js';
import { isKubernetesField } from '../../src/apiserver/strict.js';
import type { Kind } from '../../src/api/types.js';

type Schema = { properties?: Record<string, Schema>; items?: Schema; enum?: string[] };

function fieldOf(kind: Kind, path: string[]): Schema | undefined {
  let at: Schema | undefined = kindSchema(RESOURCES.find((r) => r.kind === kind)!) as Schema;
  for (const name of path) at = at?.properties?.[name];
  return at;
}

test('openapi families: Service ipFamilies, ipFamilyPolicy and clusterIPs are described', () => {
  assert.deepEqual(fieldOf('Service', ['spec', 'ipFamilies'])?.items?.enum, ['IPv4', 'IPv6']);
  assert.deepEqual(fieldOf('Service', ['spec', 'ipFamilyPolicy'])?.enum, [
    'SingleStack',
    'PreferDualStack',
    'RequireDualStack',
  ]);
  assert.ok(fieldOf('Service', ['spec', 'clusterIPs'])?.items);
  // Typed now, so no longer among the Kubernetes fields podnet keeps without reading.
  assert.equal(isKubernetesField('spec.ipFamilies'), false);
});

test('openapi families: Pod podIPs, Node podCIDRs and the ClusterNetwork lists are described', () => {
  assert.ok(fieldOf('Pod', ['status', 'podIPs'])?.items?.properties?.ip);
  assert.ok(fieldOf('Node', ['spec', 'podCIDRs'])?.items);
  for (const field of ['clusterCIDRs', 'serviceCIDRs', 'dnsIPs', 'nodeSubnetPrefixIPv6']) {
    assert.ok(fieldOf('ClusterNetwork', ['spec', field]), `ClusterNetwork spec.${field}`);
  }
});
