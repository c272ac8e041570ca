// `lab up --api kubernetes`: the lab as a Kubernetes cluster whose API is `podnet apiserver`.
// Every agent, pod runner and DNS pod reads it through the Kubernetes source as it would on a
// real cluster: its own ServiceAccount bound to the ClusterRole the source's rules describe
// (src/kube/permissions.ts), a token, and a kubeconfig naming the API server on the underlay.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type {
  ClusterRole,
  ClusterRoleBinding,
  KubeObject,
  PolicyRule,
  ServiceAccount,
} from '../api/types.js';
import { pkiPaths } from '../apiserver/pki.js';
import { DEFAULT_ISSUER, issueToken } from '../apiserver/tokens.js';
import { kubernetesUrl } from '../kube/url.js';
import { AGENT_RULES, DNS_RULES, POD_RUNNER_RULES } from '../kube/permissions.js';
import { applyObject } from '../store/objects.js';
import type { Store } from '../store/store.js';
import type { LabApi } from './plan.js';

/** Where the lab's accounts live, as podnet's own Leases do on a cluster. */
export const ACCOUNT_NAMESPACE = 'kube-system';

/** What a lab process is, for the API server: each kind has its own ClusterRole. */
export type LabRole = 'agent' | 'pod-runner' | 'dns';

const ROLE_RULES: Record<LabRole, readonly PolicyRule[]> = {
  agent: AGENT_RULES,
  'pod-runner': POD_RUNNER_RULES,
  dns: DNS_RULES,
};

/** A lab lives for days at most; its tokens outlast it rather than expire under it. */
const TOKEN_SECONDS = 365 * 24 * 3600;

export interface LabAccount {
  role: LabRole;
  /** The host whose agent or pod runner it is; the DNS pods share one account. */
  host?: string;
}

export function accountName(a: LabAccount): string {
  return a.host ? `podnet-${a.role}-${a.host}` : `podnet-${a.role}`;
}

/** An agent and a pod runner account per host, and one for the cluster DNS. */
export function labAccounts(hosts: readonly string[]): LabAccount[] {
  return [
    ...hosts.flatMap((host): LabAccount[] => [
      { role: 'agent', host },
      { role: 'pod-runner', host },
    ]),
    { role: 'dns' },
  ];
}

/** The ServiceAccounts, one ClusterRole per role and a binding of each role to its accounts. */
export function accountObjects(accounts: readonly LabAccount[]): KubeObject[] {
  const roles = [...new Set(accounts.map((a) => a.role))];
  const serviceAccounts = accounts.map((a): ServiceAccount => ({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: accountName(a), namespace: ACCOUNT_NAMESPACE },
  }));
  const clusterRoles = roles.map((role): ClusterRole => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: `podnet-${role}` },
    rules: ROLE_RULES[role].map((r) => structuredClone(r) as PolicyRule),
  }));
  const bindings = roles.map((role): ClusterRoleBinding => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `podnet-${role}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `podnet-${role}` },
    subjects: accounts
      .filter((a) => a.role === role)
      .map((a) => ({ kind: 'ServiceAccount', name: accountName(a), namespace: ACCOUNT_NAMESPACE })),
  }));
  return [...serviceAccounts, ...clusterRoles, ...bindings];
}

/** A kubeconfig holding a bearer token, as a pod's mounted service account would give. */
export function tokenKubeconfig(
  server: string,
  caPem: string,
  token: string,
  user: string,
): string {
  const cluster = 'podnet-lab';
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: user, context: { cluster, user } }],
    'current-context': user,
  });
}

export function kubeconfigFile(labDir: string, a: LabAccount): string {
  return join(labDir, 'kube', `${accountName(a)}.kubeconfig`);
}

/** Just what the lab's processes need to find their cluster. */
export interface LabSourceInfo {
  stateDir: string;
  hostStoreUrl: string;
  options: { api?: LabApi };
  apiServer?: { hostUrl: string };
}

/**
 * The cluster URL a lab process is given: the lab's store, or with `--api kubernetes` its own
 * kubeconfig, with the API server named directly (never through a Service it programs).
 */
export function labSourceUrl(lab: LabSourceInfo, a: LabAccount): string {
  if (lab.options.api !== 'kubernetes') return lab.hostStoreUrl;
  return kubernetesUrl(kubeconfigFile(lab.stateDir, a), lab.apiServer?.hostUrl);
}

/**
 * Writes the accounts and their RBAC into the lab's store and a kubeconfig per account, with a
 * token signed by the API server's key (the server made it when it first started).
 */
export async function writeLabAccounts(
  store: Store,
  labDir: string,
  pkiDir: string,
  server: string,
  hosts: readonly string[],
): Promise<void> {
  const accounts = labAccounts(hosts);
  const stored = new Map<string, ServiceAccount>();
  for (const obj of accountObjects(accounts)) {
    const { object } = await applyObject(store, obj);
    if (object.kind === 'ServiceAccount') stored.set(object.metadata.name, object);
  }
  const pki = pkiPaths(pkiDir);
  const key = createPrivateKey(readFileSync(pki.serviceAccountKey, 'utf8'));
  const ca = readFileSync(pki.caCert, 'utf8');
  mkdirSync(join(labDir, 'kube'), { recursive: true, mode: 0o700 });
  for (const a of accounts) {
    const name = accountName(a);
    const { token } = issueToken(
      key,
      stored.get(name)!,
      { expirationSeconds: TOKEN_SECONDS },
      { issuer: DEFAULT_ISSUER, now: new Date() },
    );
    writeFileSync(kubeconfigFile(labDir, a), tokenKubeconfig(server, ca, token, name), {
      mode: 0o600,
    });
  }
}
