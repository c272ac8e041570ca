// Opens the Kubernetes source a `kubernetes:` URL names: the kubeconfig (or the pod's service
// account in-cluster) and the client over it. Apart from open.ts so that only a process that
// reads the Kubernetes API loads the client.
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { OperationError, UsageError } from '../util/errors.js';
import { KubeClient } from './client.js';
import { KubeStore, type KubeStoreOptions } from './store.js';
import { IN_CLUSTER, KUBERNETES_SCHEME } from './url.js';

/**
 * Prefixed to /var/run/secrets/kubernetes.io/serviceaccount/ (token, CA, namespace) in-cluster:
 * PODNET_SERVICEACCOUNT_PREFIX lets tests and the lab keep an account's files elsewhere.
 */
function serviceAccountPrefix(): string {
  return process.env.PODNET_SERVICEACCOUNT_PREFIX ?? '';
}

export function loadKubeConfig(config: string): KubeConfig {
  const kc = new KubeConfig();
  if (config === IN_CLUSTER) {
    if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
      throw new UsageError(
        'in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not in a pod? give --kubeconfig PATH)',
      );
    }
    const token = `${serviceAccountPrefix()}/var/run/secrets/kubernetes.io/serviceaccount/token`;
    if (!existsSync(token)) {
      throw new OperationError(`in-cluster: no service account token at ${token}`);
    }
    kc.loadFromCluster(serviceAccountPrefix());
    return kc;
  }
  if (!existsSync(config)) {
    throw new UsageError(`--kubeconfig ${config}: no such file`);
  }
  try {
    kc.loadFromFile(config);
  } catch (err) {
    throw new UsageError(`--kubeconfig ${config}: ${(err as Error).message}`);
  }
  return kc;
}

/** The Kubernetes source a `kubernetes:` URL names. */
export function openKubeStore(url: string, options: KubeStoreOptions = {}): KubeStore {
  const rest = url.slice(KUBERNETES_SCHEME.length);
  const [config = '', query = ''] = rest.split('?');
  const server = new URLSearchParams(query).get('server') ?? undefined;
  if (server !== undefined && !/^https?:\/\/[^/]+$/.test(server)) {
    throw new UsageError(`--api-server ${server}: expected https://HOST:PORT`);
  }
  return new KubeStore(new KubeClient(loadKubeConfig(config), server), options);
}
