// deploy/kubernetes/01-rbac.yaml is written by hand: its ClusterRoles must grant exactly what the
// Kubernetes source asks for (src/kube/permissions.ts), no verb more and none missing.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { PolicyRule } from '../../src/api/types.js';
import { AGENT_RULES, DNS_RULES } from '../../src/kube/permissions.js';

interface Role {
  kind: string;
  metadata: { name: string };
  rules?: PolicyRule[];
}

const roles: Role[] = parseAllDocuments(readFileSync('deploy/kubernetes/01-rbac.yaml', 'utf8'))
  .map((d) => d.toJS() as Role)
  .filter((o) => o.kind === 'ClusterRole');

/** Every (group, resource, verb) a list of rules grants, sorted: rules may be grouped any way. */
function grants(rules: readonly PolicyRule[]): string[] {
  const out = new Set<string>();
  for (const r of rules) {
    for (const group of r.apiGroups ?? []) {
      for (const resource of r.resources ?? []) {
        const names = r.resourceNames ? ` [${[...r.resourceNames].sort().join(',')}]` : '';
        for (const verb of r.verbs) {
          out.add(`${verb} ${resource}${group ? `.${group}` : ''}${names}`);
        }
      }
    }
  }
  return [...out].sort();
}

function role(name: string): Role {
  const found = roles.find((r) => r.metadata.name === name);
  assert.ok(found, `01-rbac.yaml has a ClusterRole ${name}`);
  return found;
}

test('deploy-rbac-rules: the agent ClusterRole grants exactly the agent rules', () => {
  assert.deepEqual(grants(role('podnet-agent').rules ?? []), grants(AGENT_RULES));
});

test('deploy-rbac-rules: the DNS ClusterRole grants exactly the DNS rules', () => {
  assert.deepEqual(grants(role('podnet-dns').rules ?? []), grants(DNS_RULES));
});

test('deploy-rbac-rules: a role with a verb more or less does not compare equal', () => {
  const rules = role('podnet-dns').rules ?? [];
  const extra = [...rules, { apiGroups: [''], resources: ['secrets'], verbs: ['get'] }];
  assert.notDeepEqual(grants(extra), grants(DNS_RULES));
  const fewer = rules.map((r) => ({ ...r, verbs: r.verbs.filter((v) => v !== 'watch') }));
  assert.notDeepEqual(grants(fewer), grants(DNS_RULES));
  assert.equal(roles.length, 2, 'only the agent and DNS roles are deployed');
});
