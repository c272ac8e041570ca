// What a request asks for, in Kubernetes' terms: what the authorizer decides on and a 403 names.

/**
 * The request as an authorizer sees it (Kubernetes' request attributes): a verb on a resource,
 * or (discovery, /version, /openapi) the lower-case HTTP method on a path.
 */
export type RequestAttributes = ResourceAttributes | NonResourceAttributes;

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  /** Unset for cluster-scoped resources and for lists across all namespaces. */
  namespace?: string;
  name?: string;
}

export interface NonResourceAttributes {
  verb: string;
  path: string;
}
