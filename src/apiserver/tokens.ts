// ServiceAccount tokens as Kubernetes issues them: JWTs signed (ES256) with a key the server
// keeps beside its CA, carrying the account in `sub` and in the `kubernetes.io` claim, valid
// for the audiences and the time they name. A token is only as good as its account: one whose
// ServiceAccount has been deleted (or deleted and made again, a new uid) no longer
// authenticates.
import { createHash, createPublicKey, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import type { ServiceAccount } from '../api/types.js';
import { InvalidCredentialsError, bearerToken, type Authenticator, type UserInfo } from './auth.js';
import { serviceAccountUserName } from './rbac.js';

/** Kubernetes' default issuer (and so the default audience) of ServiceAccount tokens. */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** A TokenRequest that names no expiry gets an hour; less than ten minutes is refused. */
export const DEFAULT_EXPIRATION_SECONDS = 3600;
export const MIN_EXPIRATION_SECONDS = 600;

export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  jti: string;
  'kubernetes.io': {
    namespace: string;
    serviceaccount: { name: string; uid: string };
  };
}

export interface IssuedToken {
  token: string;
  /** RFC 3339, as TokenRequest.status.expirationTimestamp. */
  expirationTimestamp: string;
  /** Whom the token is for (the issuer itself unless the request named others). */
  audiences: string[];
}

export interface TokenRequestSpec {
  audiences?: string[];
  expirationSeconds?: number;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** The key id Kubernetes puts in the header: a hash of the public key. */
function keyId(publicKey: KeyObject): string {
  return base64url(
    createHash('sha256')
      .update(publicKey.export({ type: 'spki', format: 'der' }))
      .digest(),
  );
}

export function issueToken(
  privateKey: KeyObject,
  account: ServiceAccount,
  spec: TokenRequestSpec,
  opts: { issuer: string; now: Date },
): IssuedToken {
  const iat = Math.floor(opts.now.getTime() / 1000);
  const exp = iat + (spec.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS);
  const namespace = account.metadata.namespace ?? 'default';
  const claims: TokenClaims = {
    aud: spec.audiences && spec.audiences.length > 0 ? spec.audiences : [opts.issuer],
    exp,
    iat,
    iss: opts.issuer,
    jti: randomUUID(),
    'kubernetes.io': {
      namespace,
      serviceaccount: { name: account.metadata.name, uid: account.metadata.uid ?? '' },
    },
    nbf: iat,
    sub: serviceAccountUserName(namespace, account.metadata.name),
  };
  const header = { alg: 'ES256', kid: keyId(createPublicKey(privateKey)) };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JWS wants the raw r||s pair, not the DER encoding node:crypto signs with by default.
  const signature = sign('sha256', Buffer.from(signingInput), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return {
    token: `${signingInput}.${base64url(signature)}`,
    expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d+Z$/, 'Z'),
    audiences: claims.aud,
  };
}

/** Why a token is refused (a line for the server's log; the client only sees 401). */
export class InvalidTokenError extends InvalidCredentialsError {}

/**
 * The claims of a token this issuer signed, or undefined when the token is not one of ours
 * (not a JWT, another issuer); throws when it is ours but not valid now for these audiences.
 */
export function verifyToken(
  publicKey: KeyObject,
  token: string,
  opts: { issuer: string; audiences: readonly string[]; now: Date },
): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  let claims: TokenClaims;
  let alg: unknown;
  try {
    alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenClaims;
  } catch {
    return undefined;
  }
  if (typeof claims !== 'object' || claims === null || claims.iss !== opts.issuer) {
    return undefined;
  }
  if (alg !== 'ES256') throw new InvalidTokenError(`token signed with ${String(alg)}, not ES256`);
  const good = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!good) throw new InvalidTokenError('token signature does not verify');
  const now = Math.floor(opts.now.getTime() / 1000);
  if (typeof claims.exp !== 'number' || now >= claims.exp) {
    throw new InvalidTokenError('token has expired');
  }
  if (typeof claims.nbf === 'number' && now < claims.nbf) {
    throw new InvalidTokenError('token is not valid yet');
  }
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => opts.audiences.includes(a))) {
    throw new InvalidTokenError(`token is for ${aud.join(', ')}, not this server`);
  }
  const sa = claims['kubernetes.io']?.serviceaccount;
  if (!claims['kubernetes.io']?.namespace || !sa?.name) {
    throw new InvalidTokenError('token names no ServiceAccount');
  }
  return claims;
}

/** A ServiceAccount's user: its name, and the groups of all accounts and of its namespace. */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    name: serviceAccountUserName(namespace, name),
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`],
  };
}

export function serviceAccountTokens(opts: {
  publicKey: KeyObject;
  issuer: string;
  audiences: readonly string[];
  lookup(namespace: string, name: string): Promise<ServiceAccount | undefined>;
}): Authenticator {
  return {
    async authenticate(req) {
      const token = bearerToken(req);
      if (token === undefined) return undefined;
      const claims = verifyToken(opts.publicKey, token, { ...opts, now: new Date() });
      if (!claims) return undefined;
      const { namespace, serviceaccount } = claims['kubernetes.io'];
      const account = await opts.lookup(namespace, serviceaccount.name);
      if (!account) {
        throw new InvalidTokenError(`serviceaccount ${namespace}/${serviceaccount.name} is gone`);
      }
      if (serviceaccount.uid && account.metadata.uid !== serviceaccount.uid) {
        throw new InvalidTokenError(
          `serviceaccount ${namespace}/${serviceaccount.name} was made again since the token`,
        );
      }
      return serviceAccountUser(namespace, serviceaccount.name);
    },
  };
}
