// Who is asking, and may they. Authentication is a chain of authenticators, each looking at
// one kind of credential (client certificates now; bearer tokens slot in as another link);
// authorization is one decision per request from the user and what the request does.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface UserInfo {
  name: string;
  groups: string[];
}

/**
 * `undefined` when the request carries no credential of this kind; throws (the request gets
 * 401) when it carries one that is not valid.
 */
export interface Authenticator {
  authenticate(req: IncomingMessage): UserInfo | undefined;
}

export class InvalidCredentialsError extends Error {}

/** The request as an authorizer sees it (Kubernetes' request attributes). */
export interface RequestAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface Authorizer {
  authorize(user: UserInfo, request: RequestAttributes): boolean;
}

/** The group whose members may do anything, as in Kubernetes. */
export const SYSTEM_MASTERS = 'system:masters';

/**
 * Client certificates signed by the cluster CA (the TLS layer checks the signature): the
 * subject's CN is the user, each O a group.
 */
export const clientCertificates: Authenticator = {
  authenticate(req) {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') return undefined;
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return undefined;
    if (!socket.authorized) throw new InvalidCredentialsError('client certificate not trusted');
    const subject = cert.subject as unknown as Record<string, string | string[] | undefined>;
    const cn = subject.CN;
    const o = subject.O;
    const name = Array.isArray(cn) ? cn[0] : cn;
    if (!name) throw new InvalidCredentialsError('client certificate has no CN');
    return { name, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] };
  },
};

/**
 * A bearer token no authenticator accepts is invalid rather than absent (a wrong token gets
 * 401, not anonymous treatment). Token authenticators go before this link.
 */
export const unknownBearerTokens: Authenticator = {
  authenticate(req) {
    if (/^bearer\s/i.test(req.headers.authorization ?? '')) {
      throw new InvalidCredentialsError('bearer token not recognised');
    }
    return undefined;
  },
};

/** The first authenticator that recognises a credential decides; none: anonymous (undefined). */
export function authenticate(
  chain: readonly Authenticator[],
  req: IncomingMessage,
): UserInfo | undefined {
  for (const a of chain) {
    const user = a.authenticate(req);
    if (user) return user;
  }
  return undefined;
}

/** Until roles exist, only `system:masters` may do anything. */
export const systemMastersOnly: Authorizer = {
  authorize: (user) => user.groups.includes(SYSTEM_MASTERS),
};
