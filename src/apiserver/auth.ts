// Who is asking, and may they. Authentication is a chain of authenticators, each looking at
// one kind of credential (client certificates, ServiceAccount tokens); authorization is one
// decision per request from the user and what the request does: `system:masters` may do
// anything, everyone else what the stored RBAC roles and bindings grant.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { listObjects } from '../store/objects.js';
import type { Store } from '../store/store.js';
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding } from '../api/types.js';
import { authorize, type Decision } from './rbac.js';
import { resourceOfKind } from './resources.js';
import type { RequestAttributes } from './request-attributes.js';
import type { WatchCaches } from './watch-cache.js';

export interface UserInfo {
  name: string;
  groups: string[];
}

/**
 * `undefined` when the request carries no credential of this kind; throws (the request gets
 * 401) when it carries one that is not valid.
 */
export interface Authenticator {
  authenticate(req: IncomingMessage): UserInfo | undefined | Promise<UserInfo | undefined>;
}

export class InvalidCredentialsError extends Error {}

export interface Authorizer {
  authorize(user: UserInfo, request: RequestAttributes): Promise<Decision>;
}

/** The group whose members may do anything, as in Kubernetes. */
export const SYSTEM_MASTERS = 'system:masters';

/**
 * Client certificates signed by the cluster CA (the TLS layer checks the signature): the
 * subject's CN is the user, each O a group. A connection's certificate cannot change, so it is
 * read once per connection (kubectl keeps its connection open) and not on every request.
 */
export const clientCertificates: Authenticator = {
  authenticate(req) {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') return undefined;
    let identity = certificateIdentities.get(socket);
    if (!identity) {
      identity = certificateIdentity(socket);
      certificateIdentities.set(socket, identity);
    }
    if ('invalid' in identity) throw new InvalidCredentialsError(identity.invalid);
    return identity.user;
  },
};

type CertificateIdentity = { user: UserInfo | undefined } | { invalid: string };

const certificateIdentities = new WeakMap<TLSSocket, CertificateIdentity>();

function certificateIdentity(socket: TLSSocket): CertificateIdentity {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { user: undefined };
  if (!socket.authorized) return { invalid: 'client certificate not trusted' };
  const subject = cert.subject as unknown as Record<string, string | string[] | undefined>;
  const cn = subject.CN;
  const o = subject.O;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) return { invalid: 'client certificate has no CN' };
  return { user: { name, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] } };
}

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

/** The bearer token of the request, if it carries one. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** The group every authenticated user is in, whatever the credential. */
export const SYSTEM_AUTHENTICATED = 'system:authenticated';

/**
 * The first authenticator that recognises a credential decides, and its user joins
 * `system:authenticated`; none: anonymous (undefined).
 */
export async function authenticate(
  chain: readonly Authenticator[],
  req: IncomingMessage,
): Promise<UserInfo | undefined> {
  for (const a of chain) {
    const user = await a.authenticate(req);
    if (!user) continue;
    if (user.groups.includes(SYSTEM_AUTHENTICATED)) return user;
    return { ...user, groups: [...user.groups, SYSTEM_AUTHENTICATED] };
  }
  return undefined;
}

/**
 * `system:masters` is allowed before any role is read (as in Kubernetes, so that the admin
 * keeps access whatever happens to the stored roles); everyone else by the stored RBAC
 * objects as the server's watch caches hold them, with no store read (kube-apiserver's
 * authorizer reads its informers likewise). A denial is confirmed against the store's current
 * state before it is answered, so that a binding counts as soon as its write returns; a grant
 * taken away stops counting once the caches have seen it go.
 */
export function rbacAuthorizer(store: Store, caches: WatchCaches): Authorizer {
  const decide = async (user: UserInfo, request: RequestAttributes, fresh: boolean) => {
    const [roles, clusterRoles, roleBindings, clusterRoleBindings] = await Promise.all([
      readKind<Role>(store, caches, 'Role', fresh),
      readKind<ClusterRole>(store, caches, 'ClusterRole', fresh),
      readKind<RoleBinding>(store, caches, 'RoleBinding', fresh),
      readKind<ClusterRoleBinding>(store, caches, 'ClusterRoleBinding', fresh),
    ]);
    return authorize(user, request, { roles, clusterRoles, roleBindings, clusterRoleBindings });
  };
  return {
    async authorize(user, request) {
      if (user.groups.includes(SYSTEM_MASTERS)) {
        return { allowed: true, reason: `${SYSTEM_MASTERS} may do anything` };
      }
      const cached = await decide(user, request, false);
      return cached.allowed ? cached : decide(user, request, true);
    },
  };
}

/** One RBAC kind: from its cache (as it is now, or caught up with the store), else the store. */
async function readKind<T>(
  store: Store,
  caches: WatchCaches,
  kind: 'Role' | 'ClusterRole' | 'RoleBinding' | 'ClusterRoleBinding',
  fresh: boolean,
): Promise<T[]> {
  const cache = caches.of(resourceOfKind(kind)!);
  const read = fresh ? await cache.mostRecent(undefined) : cache.anyRecent(undefined);
  if (read) return read.items.map((l) => l.object as T);
  return (await listObjects(store, kind)).items as T[];
}
