// RBAC as Kubernetes decides it: a request is allowed when some binding that names the user
// (directly, through one of their groups, or as a ServiceAccount) grants a role with a rule
// that covers the request. Nothing is ever denied explicitly; no rule, no access. Pure: the
// roles and bindings come in as plain objects.
import type {
  ClusterRole,
  ClusterRoleBinding,
  PolicyRule,
  Role,
  RoleBinding,
  Subject,
} from '../api/types.js';
import type { UserInfo } from './auth.js';
import type { RequestAttributes } from './request-attributes.js';

export interface RbacObjects {
  roles: readonly Role[];
  clusterRoles: readonly ClusterRole[];
  roleBindings: readonly RoleBinding[];
  clusterRoleBindings: readonly ClusterRoleBinding[];
}

export interface Decision {
  allowed: boolean;
  /** Which binding and role allowed it (for logs), or why nothing did. */
  reason: string;
}

/** The user name a ServiceAccount authenticates as. */
export function serviceAccountUserName(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export function authorize(user: UserInfo, request: RequestAttributes, rbac: RbacObjects): Decision {
  for (const binding of rbac.clusterRoleBindings) {
    if (!binding.subjects?.some((s) => names(s, user, undefined))) continue;
    const role = rbac.clusterRoles.find((r) => r.metadata.name === binding.roleRef.name);
    if (role?.rules?.some((rule) => covers(rule, request))) {
      return allowedBy(binding, user);
    }
  }
  // A RoleBinding grants only inside its own namespace, and never non-resource URLs.
  if ('resource' in request && request.namespace !== undefined) {
    for (const binding of rbac.roleBindings) {
      if (binding.metadata.namespace !== request.namespace) continue;
      if (!binding.subjects?.some((s) => names(s, user, binding.metadata.namespace))) continue;
      const role =
        binding.roleRef.kind === 'ClusterRole'
          ? rbac.clusterRoles.find((r) => r.metadata.name === binding.roleRef.name)
          : rbac.roles.find(
              (r) =>
                r.metadata.name === binding.roleRef.name &&
                r.metadata.namespace === binding.metadata.namespace,
            );
      if (role?.rules?.some((rule) => covers(rule, request))) {
        return allowedBy(binding, user);
      }
    }
  }
  return { allowed: false, reason: 'no RBAC rule allows it' };
}

function allowedBy(binding: RoleBinding | ClusterRoleBinding, user: UserInfo): Decision {
  const where = binding.metadata.namespace ? ` in ${binding.metadata.namespace}` : '';
  return {
    allowed: true,
    reason: `allowed by ${binding.kind} "${binding.metadata.name}"${where} of ${binding.roleRef.kind} "${binding.roleRef.name}" to "${user.name}"`,
  };
}

/**
 * Whether a binding's subject is this user. A ServiceAccount subject without a namespace
 * means the binding's own (only a RoleBinding has one).
 */
function names(subject: Subject, user: UserInfo, bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'User':
      return subject.name === user.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      const namespace = subject.namespace || bindingNamespace;
      return (
        namespace !== undefined && serviceAccountUserName(namespace, subject.name) === user.name
      );
    }
  }
  return false;
}

function covers(rule: PolicyRule, request: RequestAttributes): boolean {
  if (!matchesWord(rule.verbs, request.verb)) return false;
  if (!('resource' in request)) return matchesPath(rule.nonResourceURLs ?? [], request.path);
  return (
    matchesWord(rule.apiGroups ?? [], request.group) &&
    matchesResource(rule.resources ?? [], request.resource, request.subresource) &&
    matchesName(rule.resourceNames ?? [], request.name)
  );
}

function matchesWord(allowed: readonly string[], word: string): boolean {
  return allowed.includes('*') || allowed.includes(word);
}

/** `pods` covers pods only; `pods/status` its status; `*` everything; `*` + `/status` every status. */
function matchesResource(
  allowed: readonly string[],
  resource: string,
  subresource: string | undefined,
): boolean {
  if (allowed.includes('*')) return true;
  if (subresource === undefined) return allowed.includes(resource);
  return allowed.includes(`${resource}/${subresource}`) || allowed.includes(`*/${subresource}`);
}

/** No names: every object. Names: only those, so never a whole collection (list, create). */
function matchesName(allowed: readonly string[], name: string | undefined): boolean {
  if (allowed.length === 0) return true;
  return name !== undefined && allowed.includes(name);
}

/** Exact paths, `*` for every path, and `prefix*` for every path under a prefix. */
function matchesPath(allowed: readonly string[], path: string): boolean {
  return allowed.some(
    (p) => p === '*' || p === path || (p.endsWith('*') && path.startsWith(p.slice(0, -1))),
  );
}
