// `POST .../serviceaccounts/NAME/token`: a TokenRequest (authentication.k8s.io/v1) in, the same
// with a freshly signed token in its status out — what `kubectl create token` sends.
import type { ServiceAccount } from '../api/types.js';
import { getObject } from '../store/objects.js';
import type { Store } from '../store/store.js';
import type { Reply } from './handlers.js';
import { invalid, notFound } from './status.js';
import {
  DEFAULT_EXPIRATION_SECONDS,
  MIN_EXPIRATION_SECONDS,
  type IssuedToken,
  type TokenRequestSpec,
} from './tokens.js';

export type TokenIssuer = (account: ServiceAccount, spec: TokenRequestSpec) => IssuedToken;

const GROUP = 'authentication.k8s.io';

export async function requestToken(
  store: Store,
  namespace: string,
  name: string,
  body: unknown,
  issue: TokenIssuer,
): Promise<Reply> {
  const spec = ((body as { spec?: TokenRequestSpec } | undefined)?.spec ?? {}) as TokenRequestSpec;
  const expirationSeconds = spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
  if (!Number.isInteger(expirationSeconds) || expirationSeconds < MIN_EXPIRATION_SECONDS) {
    throw invalid('TokenRequest', GROUP, name, [
      {
        field: 'spec.expirationSeconds',
        message: `Invalid value: ${JSON.stringify(spec.expirationSeconds)}: may not specify a duration less than 10 minutes`,
      },
    ]);
  }
  const audiences = Array.isArray(spec.audiences) ? spec.audiences.map(String) : undefined;
  const account = await getObject(store, 'ServiceAccount', namespace, name);
  if (!account) throw notFound({ resource: 'serviceaccounts', group: '', name });
  const issued = issue(account, { audiences, expirationSeconds });
  return {
    code: 201,
    body: {
      kind: 'TokenRequest',
      apiVersion: `${GROUP}/v1`,
      metadata: { name, namespace, creationTimestamp: null },
      spec: { audiences: issued.audiences, expirationSeconds, boundObjectRef: null },
      status: { token: issued.token, expirationTimestamp: issued.expirationTimestamp },
    },
  };
}
