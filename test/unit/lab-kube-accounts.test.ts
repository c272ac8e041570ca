// `lab up --api kubernetes`: each lab process gets its own ServiceAccount bound to exactly the
// rules the Kubernetes source asks for, and a cluster URL naming its kubeconfig and the API
// server; the default lab keeps giving its store.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterRole, ClusterRoleBinding, Pod } from '../../src/api/types.js';
import { AGENT_RULES, DNS_RULES, POD_RUNNER_RULES } from '../../src/kube/permissions.js';
import { clusterDnsObjects } from '../../src/lab/cluster-dns.js';
import {
  accountObjects,
  labAccounts,
  labSourceUrl,
  tokenKubeconfig,
} from '../../src/lab/kube-accounts.js';
import { parse } from 'yaml';

test('lab-kube-accounts: an agent and a pod runner account per host, one for DNS, each role bound', () => {
  const objects = accountObjects(labAccounts(['node-1', 'node-2']));
  const accounts = objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name);
  assert.deepEqual(accounts, [
    'podnet-agent-node-1',
    'podnet-pod-runner-node-1',
    'podnet-agent-node-2',
    'podnet-pod-runner-node-2',
    'podnet-dns',
  ]);
  const roles = objects.filter((o): o is ClusterRole => o.kind === 'ClusterRole');
  const rules = Object.fromEntries(roles.map((r) => [r.metadata.name, r.rules]));
  assert.deepEqual(rules, {
    'podnet-agent': AGENT_RULES,
    'podnet-pod-runner': POD_RUNNER_RULES,
    'podnet-dns': DNS_RULES,
  });
  const agents = objects.find(
    (o): o is ClusterRoleBinding =>
      o.kind === 'ClusterRoleBinding' && o.metadata.name === 'podnet-agent',
  );
  assert.equal(agents?.roleRef.name, 'podnet-agent');
  assert.deepEqual(
    agents?.subjects?.map((s) => `${s.kind} ${s.namespace}/${s.name}`),
    [
      'ServiceAccount kube-system/podnet-agent-node-1',
      'ServiceAccount kube-system/podnet-agent-node-2',
    ],
  );
});

test('lab-kube-accounts: processes read the store by default, their kubeconfig with --api kubernetes', () => {
  const lab = {
    stateDir: '/run/podnet/labs/k',
    hostStoreUrl: 'sqlite:/run/podnet/labs/k/store.db',
    options: {},
    apiServer: { hostUrl: 'https://172.31.1.254:6443' },
  };
  assert.equal(labSourceUrl(lab, { role: 'agent', host: 'node-1' }), lab.hostStoreUrl);
  const kube = { ...lab, options: { api: 'kubernetes' as const } };
  assert.equal(
    labSourceUrl(kube, { role: 'agent', host: 'node-1' }),
    'kubernetes:/run/podnet/labs/k/kube/podnet-agent-node-1.kubeconfig?server=https%3A%2F%2F172.31.1.254%3A6443',
  );
  assert.match(labSourceUrl(kube, { role: 'dns' }), /^kubernetes:.*\/podnet-dns\.kubeconfig\?/);
});

test('lab-kube-accounts: the kubeconfig carries the token and the CA, not a client certificate', () => {
  const config = parse(tokenKubeconfig('https://172.31.1.254:6443', 'PEM', 'tok', 'u')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
    users: { user: Record<string, string> }[];
  };
  assert.equal(config.clusters[0]!.cluster.server, 'https://172.31.1.254:6443');
  assert.equal(
    Buffer.from(config.clusters[0]!.cluster['certificate-authority-data'], 'base64').toString(),
    'PEM',
  );
  assert.deepEqual(config.users[0]!.user, { token: 'tok' });
});

test('lab-kube-accounts: DNS pods are told their own cluster only when there is one', () => {
  const dns = (source?: string) =>
    clusterDnsObjects({ nodes: ['node-1'], source }).find((o): o is Pod => o.kind === 'Pod')!;
  assert.equal(dns().spec.containers[0]!.env, undefined);
  assert.deepEqual(dns('kubernetes:/k?server=x').spec.containers[0]!.env, [
    { name: 'PODNET_STORE', value: 'kubernetes:/k?server=x' },
  ]);
});
