// Questions a client asks about itself, answered from its own credentials and never stored:
// SelfSubjectAccessReview (`kubectl auth can-i`: would the authorizer let me do this?) and
// SelfSubjectReview (`kubectl auth whoami`: who does the server take me for?).
import type { UserInfo } from './auth.js';
import type { Authorizer } from './auth.js';
import type { RequestAttributes } from './request-attributes.js';
import { invalid } from './status.js';

export interface Review {
  group: string;
  version: string;
  plural: string;
  kind: 'SelfSubjectAccessReview' | 'SelfSubjectReview';
}

export const REVIEWS: readonly Review[] = [
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    plural: 'selfsubjectaccessreviews',
    kind: 'SelfSubjectAccessReview',
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    plural: 'selfsubjectreviews',
    kind: 'SelfSubjectReview',
  },
];

/** The review served at `/apis/GROUP/VERSION/PLURAL`, if any. */
export function reviewAt(path: string): Review | undefined {
  const m = /^\/apis\/([^/]+)\/([^/]+)\/([^/]+)\/?$/.exec(path);
  return m
    ? REVIEWS.find((r) => r.group === m[1] && r.version === m[2] && r.plural === m[3])
    : undefined;
}

interface AccessReviewSpec {
  resourceAttributes?: {
    namespace?: string;
    verb?: string;
    group?: string;
    resource?: string;
    subresource?: string;
    name?: string;
  };
  nonResourceAttributes?: { path?: string; verb?: string };
}

/** The question in a SelfSubjectAccessReview, as the authorizer takes it. */
function attributesOf(spec: AccessReviewSpec | undefined): RequestAttributes {
  const refuse = (field: string, message: string) =>
    invalid('SelfSubjectAccessReview', 'authorization.k8s.io', '', [{ field, message }]);
  const r = spec?.resourceAttributes;
  const n = spec?.nonResourceAttributes;
  if (r && n) {
    throw refuse(
      'spec.nonResourceAttributes',
      'Invalid value: cannot be specified in combination with resourceAttributes',
    );
  }
  if (n) return { verb: n.verb ?? '', path: n.path ?? '' };
  if (!r) {
    throw refuse(
      'spec.resourceAttributes',
      'Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified',
    );
  }
  return {
    verb: r.verb ?? '',
    group: r.group ?? '',
    resource: r.resource ?? '',
    ...(r.subresource ? { subresource: r.subresource } : {}),
    ...(r.namespace ? { namespace: r.namespace } : {}),
    ...(r.name ? { name: r.name } : {}),
  };
}

/** The review with its status filled in (HTTP 201, as Kubernetes answers a create). */
export async function answerReview(
  review: Review,
  user: UserInfo,
  body: unknown,
  authorizer: Authorizer,
): Promise<unknown> {
  const apiVersion = `${review.group}/${review.version}`;
  if (review.kind === 'SelfSubjectReview') {
    return {
      kind: review.kind,
      apiVersion,
      metadata: { creationTimestamp: null },
      status: { userInfo: { username: user.name, groups: user.groups } },
    };
  }
  const spec = (body as { spec?: AccessReviewSpec } | undefined)?.spec;
  const decision = await authorizer.authorize(user, attributesOf(spec));
  return {
    kind: review.kind,
    apiVersion,
    metadata: { creationTimestamp: null },
    spec,
    // RBAC only allows, so `denied` is never set; as in Kubernetes, a refusal gives no reason
    // (kubectl would print it after its `no`), an allowance names the binding.
    status: decision.allowed ? { allowed: true, reason: decision.reason } : { allowed: false },
  };
}
