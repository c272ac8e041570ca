// Deleting objects, Kubernetes' way: what an object held (cluster IP, node ports, a node's pod
// subnet) is given back with it; a Pod on a live node is only marked (deletionTimestamp), and
// its node's pod runner removes it once the pod is torn down; a Namespace turns Terminating,
// its contents are deleted (at once, or later by the namespace controller), and it goes when
// the last of them has gone.
import { KINDS, kindInfo } from '../api/kinds.js';
import type { Kind, KubeObject, Namespace, Pod } from '../api/types.js';
import { releaseNodeSubnets } from '../ipam/subnet-lease.js';
import {
  decodeObject,
  getObject,
  kindPrefix,
  listObjects,
  objectKey,
  updateObject,
} from '../store/objects.js';
import type { Store } from '../store/store.js';
import { OperationError, UsageError } from '../util/errors.js';
import { SYSTEM_NAMESPACES, isTerminating, markTerminating, stamp } from './namespaces.js';
import { releaseService } from './services.js';

/** Kubernetes' default `terminationGracePeriodSeconds`. */
export const DEFAULT_GRACE_SECONDS = 30;

export interface DeleteOptions {
  /**
   * Seconds a pod's node gets to tear it down. 0 with `force` removes the object at once,
   * without waiting for the node: for pods whose node is gone for good.
   */
  gracePeriodSeconds?: number;
  force?: boolean;
  now?: Date;
  /**
   * A Namespace's contents: deleted `now`, before returning (the default: `podnet delete` works
   * on the store with no controller necessarily running), or `later` by the namespace
   * controller, as Kubernetes' API server leaves them, so that a client deleting the namespace
   * together with its contents (`kubectl delete -f`) still finds them and deletes them itself.
   */
  namespaceContents?: 'now' | 'later';
}

/** `deleted`: the object is gone; `terminating`: its deletion has begun and finishes later. */
export type DeleteOutcome = 'deleted' | 'terminating' | 'not-found';

export async function deleteObject(
  store: Store,
  kind: Kind,
  namespace: string | undefined,
  name: string,
  opts: DeleteOptions = {},
): Promise<DeleteOutcome> {
  if (kind === 'Namespace' && SYSTEM_NAMESPACES.includes(name)) {
    throw new UsageError(`namespace "${name}": a system namespace cannot be deleted`);
  }
  const obj = await getObject(store, kind, namespace, name);
  if (!obj) return 'not-found';
  switch (obj.kind) {
    case 'Namespace':
      return deleteNamespace(store, obj, opts);
    case 'Pod':
      return deletePod(store, obj, opts);
    default:
      return (await removeObject(store, obj)) ? 'deleted' : 'not-found';
  }
}

/** A pod is torn down by its node first, unless nothing would ever do that. */
async function deletePod(store: Store, pod: Pod, opts: DeleteOptions): Promise<DeleteOutcome> {
  const grace = opts.gracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
  if ((opts.force && grace === 0) || !(await hasLiveNode(store, pod))) {
    return (await removeObject(store, pod)) ? 'deleted' : 'not-found';
  }
  if (pod.metadata.deletionTimestamp) return 'terminating';
  const marked = await updateObject(
    store,
    'Pod',
    pod.metadata.namespace,
    pod.metadata.name,
    (p) => {
      if (p.metadata.uid !== pod.metadata.uid || p.metadata.deletionTimestamp) return undefined;
      p.metadata.deletionTimestamp = stamp(opts.now ?? new Date());
      p.metadata.deletionGracePeriodSeconds = grace;
      return p;
    },
  );
  return marked ? 'terminating' : 'not-found';
}

/**
 * Whether a pod runner could still tear the pod down: it is placed on a node that exists. An
 * unplaced pod, or one whose Node was deleted, has nobody to wait for (Kubernetes' pod garbage
 * collector removes those at once too).
 */
async function hasLiveNode(store: Store, pod: Pod): Promise<boolean> {
  const node = pod.spec.nodeName;
  return node !== undefined && (await getObject(store, 'Node', undefined, node)) !== undefined;
}

async function deleteNamespace(
  store: Store,
  ns: Namespace,
  opts: DeleteOptions,
): Promise<DeleteOutcome> {
  const name = ns.metadata.name;
  if (!isTerminating(ns)) {
    const now = opts.now ?? new Date();
    await updateObject(store, 'Namespace', undefined, name, (n) => markTerminating(n, now));
  }
  if (opts.namespaceContents !== 'later') return deleteNamespaceContents(store, name, opts);
  // Nothing in it to wait for: it goes at once.
  return (await finalizeNamespace(store, name)) ? 'deleted' : 'terminating';
}

/**
 * The namespace controller's work on a Terminating namespace: deletes what is in it (pods
 * gracefully, so they may stay a while) and removes the namespace once that emptied it.
 * `not-found` when the namespace is not being deleted (a new one of the same name keeps its
 * contents).
 */
export async function deleteNamespaceContents(
  store: Store,
  name: string,
  opts: DeleteOptions = {},
): Promise<DeleteOutcome> {
  const ns = await getObject(store, 'Namespace', undefined, name);
  if (!ns || !isTerminating(ns)) return 'not-found';
  for (const kind of NAMESPACED_KINDS) {
    for (const obj of (await listObjects(store, kind, name)).items) {
      await deleteObject(store, obj.kind, name, obj.metadata.name, opts);
    }
  }
  // The last of its contents may have finalized it already.
  await finalizeNamespace(store, name);
  return (await store.get(objectKey('Namespace', undefined, name))) ? 'terminating' : 'deleted';
}

const NAMESPACED_KINDS: readonly Kind[] = KINDS.filter((k) => k.namespaced).map((k) => k.kind);

/**
 * The namespace finalizer: removes a Terminating namespace once nothing is left in it. Runs
 * after every removal from a namespace (and in the repair pass). Returns true when it removed it.
 */
export async function finalizeNamespace(store: Store, name: string): Promise<boolean> {
  const kv = await store.get(objectKey('Namespace', undefined, name));
  if (!kv || !isTerminating(decodeObject<'Namespace'>(kv))) return false;
  for (const kind of NAMESPACED_KINDS) {
    if ((await store.list(kindPrefix(kind, name))).items.length > 0) return false;
  }
  return store.delete(kv.key, kv.modRevision);
}

/**
 * The end of a pod's graceful deletion, called by its node's pod runner once the pod is torn
 * down: removes the object if it is still the pod that was torn down (same uid).
 */
export async function finishPodDeletion(store: Store, pod: Pod): Promise<boolean> {
  const current = await getObject(store, 'Pod', pod.metadata.namespace, pod.metadata.name);
  if (!current || current.metadata.uid !== pod.metadata.uid) return false;
  return removeObject(store, current);
}

/**
 * Deletes the object and gives back what it held. The delete is conditional on the revision
 * read, so what is released is what the deleted object held (agents write status meanwhile:
 * then it reads again).
 */
async function removeObject(store: Store, obj: KubeObject): Promise<boolean> {
  const key = objectKey(obj.kind, obj.metadata.namespace, obj.metadata.name);
  let current: KubeObject = obj;
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await store.delete(key, Number(current.metadata.resourceVersion))) {
      await releaseHeld(store, current);
      return true;
    }
    const kv = await store.get(key);
    if (!kv) return false;
    current = decodeObject(kv);
    // Recreated under the same name meanwhile: that is another object, not ours to delete.
    if (current.metadata.uid !== obj.metadata.uid) return false;
  }
  throw new OperationError(`store: ${key} kept changing under delete; try again`);
}

async function releaseHeld(store: Store, obj: KubeObject): Promise<void> {
  if (obj.kind === 'Service') await releaseService(store, obj);
  if (obj.kind === 'Node') await releaseNodeSubnets(store, obj.metadata.name);
  if (kindInfo(obj.kind).namespaced) {
    await finalizeNamespace(store, obj.metadata.namespace ?? 'default');
  }
}
