// RBAC decisions, one rule feature per row: verbs, API groups, resources and subresources,
// resource names, non-resource URLs, binding scope and subjects; and the default policy the
// server bootstraps, decided by the same function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  ClusterRole,
  ClusterRoleBinding,
  PolicyRule,
  Role,
  RoleBinding,
  Subject,
} from '../../src/api/types.js';
import type { UserInfo } from '../../src/apiserver/auth.js';
import type {
  RequestAttributes,
  ResourceAttributes,
} from '../../src/apiserver/request-attributes.js';
import { bootstrapPolicy } from '../../src/apiserver/bootstrap-policy.js';
import { authorize, type RbacObjects } from '../../src/apiserver/rbac.js';
import { forbidden } from '../../src/apiserver/status.js';

const RBAC = 'rbac.authorization.k8s.io';
const robot: UserInfo = {
  name: 'system:serviceaccount:default:robot',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
};
const jane: UserInfo = { name: 'jane', groups: ['devs', 'system:authenticated'] };

function role(namespace: string, name: string, rules: PolicyRule[]): Role {
  return { apiVersion: `${RBAC}/v1`, kind: 'Role', metadata: { name, namespace }, rules };
}
function clusterRole(name: string, rules: PolicyRule[]): ClusterRole {
  return { apiVersion: `${RBAC}/v1`, kind: 'ClusterRole', metadata: { name }, rules };
}
function roleBinding(
  namespace: string,
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string },
  subjects: Subject[],
): RoleBinding {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name: `b-${roleRef.name}`, namespace },
    roleRef: { apiGroup: RBAC, ...roleRef },
    subjects,
  };
}
function clusterRoleBinding(roleName: string, subjects: Subject[]): ClusterRoleBinding {
  return {
    apiVersion: `${RBAC}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: `b-${roleName}` },
    roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: roleName },
    subjects,
  };
}

const SA_ROBOT: Subject = { kind: 'ServiceAccount', name: 'robot', namespace: 'default' };

/** Robot bound in `default` to a Role with just this rule. */
function withRule(rule: PolicyRule): RbacObjects {
  return {
    roles: [role('default', 'r', [rule])],
    clusterRoles: [],
    roleBindings: [roleBinding('default', { kind: 'Role', name: 'r' }, [SA_ROBOT])],
    clusterRoleBindings: [],
  };
}

const pods = (verb: string, extra: Partial<ResourceAttributes> = {}): ResourceAttributes => ({
  verb,
  group: '',
  resource: 'pods',
  namespace: 'default',
  ...extra,
});

test('each rule feature allows what it names and nothing else', () => {
  const rows: [string, PolicyRule, RequestAttributes, boolean][] = [
    ['verb listed', { verbs: ['list'], apiGroups: [''], resources: ['pods'] }, pods('list'), true],
    [
      'verb not listed',
      { verbs: ['get'], apiGroups: [''], resources: ['pods'] },
      pods('list'),
      false,
    ],
    [
      'verb *',
      { verbs: ['*'], apiGroups: [''], resources: ['pods'] },
      pods('deletecollection'),
      true,
    ],
    [
      'group listed',
      { verbs: ['get'], apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'] },
      {
        verb: 'get',
        group: 'discovery.k8s.io',
        resource: 'endpointslices',
        namespace: 'default',
        name: 's',
      },
      true,
    ],
    [
      'core group is ""',
      { verbs: ['get'], apiGroups: ['apps'], resources: ['pods'] },
      pods('get'),
      false,
    ],
    ['group *', { verbs: ['get'], apiGroups: ['*'], resources: ['pods'] }, pods('get'), true],
    ['no groups: nothing', { verbs: ['get'], resources: ['pods'] }, pods('get'), false],
    [
      'resource listed',
      { verbs: ['get'], apiGroups: [''], resources: ['services'] },
      pods('get'),
      false,
    ],
    ['resource *', { verbs: ['get'], apiGroups: [''], resources: ['*'] }, pods('get'), true],
    [
      'resource * covers subresources',
      { verbs: ['get'], apiGroups: [''], resources: ['*'] },
      pods('get', { name: 'p', subresource: 'status' }),
      true,
    ],
    [
      'pods does not cover pods/status',
      { verbs: ['patch'], apiGroups: [''], resources: ['pods'] },
      pods('patch', { name: 'p', subresource: 'status' }),
      false,
    ],
    [
      'pods/status',
      { verbs: ['patch'], apiGroups: [''], resources: ['pods/status'] },
      pods('patch', { name: 'p', subresource: 'status' }),
      true,
    ],
    [
      'pods/status does not cover pods',
      { verbs: ['patch'], apiGroups: [''], resources: ['pods/status'] },
      pods('patch', { name: 'p' }),
      false,
    ],
    [
      '*/status',
      { verbs: ['patch'], apiGroups: [''], resources: ['*/status'] },
      pods('patch', { name: 'p', subresource: 'status' }),
      true,
    ],
    [
      'resourceNames: the name',
      { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['p'] },
      pods('get', { name: 'p' }),
      true,
    ],
    [
      'resourceNames: another name',
      { verbs: ['get'], apiGroups: [''], resources: ['pods'], resourceNames: ['p'] },
      pods('get', { name: 'q' }),
      false,
    ],
    [
      'resourceNames: never a collection',
      { verbs: ['list'], apiGroups: [''], resources: ['pods'], resourceNames: ['p'] },
      pods('list'),
      false,
    ],
  ];
  for (const [what, rule, request, allowed] of rows) {
    assert.equal(authorize(robot, request, withRule(rule)).allowed, allowed, what);
  }
});

test('non-resource URLs: exact, prefix*, *; only through cluster role bindings', () => {
  const rbac = (urls: string[]): RbacObjects => ({
    roles: [],
    clusterRoles: [clusterRole('paths', [{ verbs: ['get'], nonResourceURLs: urls }])],
    roleBindings: [],
    clusterRoleBindings: [clusterRoleBinding('paths', [{ kind: 'User', name: 'jane' }])],
  });
  const get = (path: string): RequestAttributes => ({ verb: 'get', path });
  assert.equal(authorize(jane, get('/version'), rbac(['/version'])).allowed, true);
  assert.equal(authorize(jane, get('/version/x'), rbac(['/version'])).allowed, false);
  assert.equal(authorize(jane, get('/apis/rbac'), rbac(['/apis/*'])).allowed, true);
  assert.equal(authorize(jane, get('/healthz'), rbac(['*'])).allowed, true);
  assert.equal(authorize(jane, { verb: 'post', path: '/version' }, rbac(['*'])).allowed, false);
  // A resource rule never covers a path.
  assert.equal(
    authorize(jane, get('/version'), {
      ...rbac([]),
      clusterRoles: [clusterRole('paths', [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }])],
    }).allowed,
    false,
  );
  const viaRoleBinding: RbacObjects = {
    roles: [],
    clusterRoles: [clusterRole('paths', [{ verbs: ['get'], nonResourceURLs: ['*'] }])],
    roleBindings: [
      roleBinding('default', { kind: 'ClusterRole', name: 'paths' }, [
        { kind: 'User', name: 'jane' },
      ]),
    ],
    clusterRoleBindings: [],
  };
  assert.equal(authorize(jane, get('/version'), viaRoleBinding).allowed, false);
});

test('binding scope: a RoleBinding grants in its namespace only; a ClusterRoleBinding everywhere', () => {
  const reader = clusterRole('reader', [{ verbs: ['list'], apiGroups: [''], resources: ['pods'] }]);
  const namespaced: RbacObjects = {
    roles: [],
    clusterRoles: [reader],
    roleBindings: [roleBinding('default', { kind: 'ClusterRole', name: 'reader' }, [SA_ROBOT])],
    clusterRoleBindings: [],
  };
  assert.equal(authorize(robot, pods('list'), namespaced).allowed, true);
  assert.equal(authorize(robot, pods('list', { namespace: 'other' }), namespaced).allowed, false);
  assert.equal(authorize(robot, pods('list', { namespace: undefined }), namespaced).allowed, false);
  const everywhere: RbacObjects = {
    ...namespaced,
    roleBindings: [],
    clusterRoleBindings: [clusterRoleBinding('reader', [SA_ROBOT])],
  };
  assert.equal(authorize(robot, pods('list', { namespace: 'other' }), everywhere).allowed, true);
  assert.equal(authorize(robot, pods('list', { namespace: undefined }), everywhere).allowed, true);
  // A RoleBinding's Role is the one in the binding's own namespace.
  const elsewhere: RbacObjects = {
    roles: [role('other', 'r', [{ verbs: ['list'], apiGroups: [''], resources: ['pods'] }])],
    clusterRoles: [],
    roleBindings: [roleBinding('default', { kind: 'Role', name: 'r' }, [SA_ROBOT])],
    clusterRoleBindings: [],
  };
  assert.equal(authorize(robot, pods('list'), elsewhere).allowed, false);
  // A binding to a role that does not exist grants nothing.
  const dangling: RbacObjects = { ...namespaced, clusterRoles: [] };
  assert.equal(authorize(robot, pods('list'), dangling).allowed, false);
});

test('subjects: user by name, group by membership, service account by namespace and name', () => {
  const rule = { verbs: ['get'], apiGroups: [''], resources: ['pods'] };
  const bound = (subject: Subject): RbacObjects => ({
    roles: [role('default', 'r', [rule])],
    clusterRoles: [],
    roleBindings: [roleBinding('default', { kind: 'Role', name: 'r' }, [subject])],
    clusterRoleBindings: [],
  });
  const rows: [string, UserInfo, Subject, boolean][] = [
    ['user', jane, { kind: 'User', name: 'jane' }, true],
    ['another user', jane, { kind: 'User', name: 'john' }, false],
    ['group', jane, { kind: 'Group', name: 'devs' }, true],
    ['another group', jane, { kind: 'Group', name: 'ops' }, false],
    ['all service accounts', robot, { kind: 'Group', name: 'system:serviceaccounts' }, true],
    ['service account', robot, SA_ROBOT, true],
    [
      "service account, binding's namespace",
      robot,
      { kind: 'ServiceAccount', name: 'robot' },
      true,
    ],
    [
      'service account elsewhere',
      robot,
      { kind: 'ServiceAccount', name: 'robot', namespace: 'other' },
      false,
    ],
    ['a user named like the account is not it', jane, SA_ROBOT, false],
  ];
  for (const [what, user, subject, allowed] of rows) {
    assert.equal(
      authorize(user, pods('get', { name: 'p' }), bound(subject)).allowed,
      allowed,
      what,
    );
  }
});

test('the default policy: admins anything, authenticated users discovery only, view reads', () => {
  const defaults = bootstrapPolicy();
  const rbac: RbacObjects = {
    roles: [],
    clusterRoles: defaults.filter((o): o is ClusterRole => o.kind === 'ClusterRole'),
    roleBindings: [],
    clusterRoleBindings: defaults.filter(
      (o): o is ClusterRoleBinding => o.kind === 'ClusterRoleBinding',
    ),
  };
  const admin: UserInfo = { name: 'admin', groups: ['system:masters', 'system:authenticated'] };
  assert.equal(authorize(admin, pods('delete', { name: 'p' }), rbac).allowed, true);
  assert.equal(authorize(admin, { verb: 'post', path: '/anything' }, rbac).allowed, true);
  for (const path of [
    '/api',
    '/api/v1',
    '/apis',
    '/apis/rbac.authorization.k8s.io/v1',
    '/version',
    '/openapi/v2',
  ]) {
    assert.equal(authorize(robot, { verb: 'get', path }, rbac).allowed, true, path);
  }
  assert.equal(authorize(robot, pods('list'), rbac).allowed, false);
  const viewer = {
    ...rbac,
    roleBindings: [roleBinding('default', { kind: 'ClusterRole', name: 'view' }, [SA_ROBOT])],
  };
  assert.equal(authorize(robot, pods('list'), viewer).allowed, true);
  assert.equal(authorize(robot, pods('delete', { name: 'p' }), viewer).allowed, false);
  assert.equal(
    authorize(
      robot,
      { verb: 'list', group: RBAC, resource: 'rolebindings', namespace: 'default' },
      viewer,
    ).allowed,
    false,
  );
  const decision = authorize(robot, pods('list'), viewer);
  assert.match(decision.reason, /RoleBinding "b-view" in default of ClusterRole "view"/);
});

test('403 messages in Kubernetes words: resource, subresource, scope, path', () => {
  const message = (request: RequestAttributes) => forbidden(robot.name, request).message;
  assert.equal(
    message(pods('list')),
    'pods is forbidden: User "system:serviceaccount:default:robot" cannot list resource "pods" in API group "" in the namespace "default"',
  );
  assert.equal(
    message(pods('patch', { name: 'p', subresource: 'status' })),
    'pods "p" is forbidden: User "system:serviceaccount:default:robot" cannot patch resource "pods/status" in API group "" in the namespace "default"',
  );
  assert.equal(
    message({ verb: 'list', group: RBAC, resource: 'clusterroles' }),
    'clusterroles.rbac.authorization.k8s.io is forbidden: User "system:serviceaccount:default:robot" cannot list resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope',
  );
  assert.equal(
    message({ verb: 'get', path: '/version' }),
    'forbidden: User "system:serviceaccount:default:robot" cannot get path "/version"',
  );
});
