// The API server's authorizer over a real (in-memory SQLite) store: once the watch caches are
// primed, a decision reads no role or binding from the store; a binding counts as soon as its
// write returns, and a removed one stops counting once the caches have seen it go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Role, RoleBinding } from '../../src/api/types.js';
import { rbacAuthorizer, type UserInfo } from '../../src/apiserver/auth.js';
import type { ResourceAttributes } from '../../src/apiserver/request-attributes.js';
import { WatchCaches } from '../../src/apiserver/watch-cache.js';
import { objectKey } from '../../src/store/objects.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { resourceOfKind } from '../../src/apiserver/resources.js';

const RBAC = 'rbac.authorization.k8s.io';
const robot: UserInfo = {
  name: 'system:serviceaccount:default:robot',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:default'],
};
const getPod: ResourceAttributes = {
  verb: 'get',
  group: '',
  resource: 'pods',
  namespace: 'default',
  name: 'web',
};
const listPods: ResourceAttributes = {
  verb: 'list',
  group: '',
  resource: 'pods',
  namespace: 'default',
};

/** A Role granting `verb` on pods in `default`, and its binding to the robot. */
async function grant(store: Store, verb: string): Promise<void> {
  const role: Role = {
    apiVersion: `${RBAC}/v1`,
    kind: 'Role',
    metadata: { name: verb, namespace: 'default' },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: [verb] }],
  };
  const binding: RoleBinding = {
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name: verb, namespace: 'default' },
    roleRef: { apiGroup: RBAC, kind: 'Role', name: verb },
    subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace: 'default' }],
  };
  await store.put(objectKey('Role', 'default', verb), JSON.stringify(role));
  await store.put(objectKey('RoleBinding', 'default', verb), JSON.stringify(binding));
}

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('rbac authorizer: decisions from the primed caches read no role from the store; a new binding counts at once', async () => {
  const store = await openStore('sqlite::memory:');
  let lists = 0;
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'list') lists++;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  const caches = new WatchCaches(counted);
  const authorizer = rbacAuthorizer(counted, caches);
  try {
    await grant(store, 'get');
    assert.equal((await authorizer.authorize(robot, getPod)).allowed, true);
    const kinds = ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'];
    await eventually('the caches primed', async () =>
      kinds.every((k) => caches.of(resourceOfKind(k)!).anyRecent(undefined) !== undefined),
    );
    const before = lists;
    for (let i = 0; i < 100; i++) {
      assert.equal((await authorizer.authorize(robot, getPod)).allowed, true);
    }
    assert.equal(lists - before, 0, 'allowed decisions listed the store');

    // Written a moment ago: the caches may not have it yet, but the denial is checked afresh.
    await grant(store, 'list');
    assert.equal((await authorizer.authorize(robot, listPods)).allowed, true);

    await store.delete(objectKey('RoleBinding', 'default', 'get'));
    await eventually(
      'the removed binding to stop counting',
      async () => !(await authorizer.authorize(robot, getPod)).allowed,
    );
  } finally {
    caches.stop();
    await store.close();
  }
});
