// Opens the cluster a process reads: podnet's own store, or the Kubernetes API when the URL says
// `kubernetes:KUBECONFIG` or `kubernetes:in-cluster` (the pod's service account, with the API
// host from KUBERNETES_SERVICE_HOST/_PORT). `?server=https://HOST:PORT` points at the API server
// directly: agents must never reach it through the `default/kubernetes` Service they program.
import { openStore, type OpenOptions } from '../store/open.js';
import type { Store } from '../store/store.js';
import type { KubeStoreOptions } from './store.js';
import { KUBERNETES_SCHEME } from './url.js';

export { kubernetesUrl } from './url.js';

/** podnet's own store, or the Kubernetes API for a `kubernetes:` URL. */
export async function openSource(
  url: string,
  options: OpenOptions & KubeStoreOptions = {},
): Promise<Store> {
  if (url.startsWith(KUBERNETES_SCHEME)) {
    // Loaded only here: the Kubernetes client costs a process about 50 MB of code and heap,
    // which an agent on podnet's own store never needs.
    const { openKubeStore } = await import('./connect.js');
    return openKubeStore(url, options);
  }
  return openStore(url, options);
}
