// How a command names the Kubernetes API as its cluster: `kubernetes:KUBECONFIG` or
// `kubernetes:in-cluster`, with `?server=https://HOST:PORT` to reach the API server directly.
// Kept apart from the client so that naming it loads nothing heavy.

export const KUBERNETES_SCHEME = 'kubernetes:';
export const IN_CLUSTER = 'in-cluster';

/** `kubernetes:` + a kubeconfig path or `in-cluster`, with the API server to use, if given. */
export function kubernetesUrl(config: string, server?: string): string {
  return `${KUBERNETES_SCHEME}${config}${server ? `?server=${encodeURIComponent(server)}` : ''}`;
}
