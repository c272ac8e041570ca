// Creating and updating objects: validate → default → admit → merge → write, for a whole
// manifest at once. Everything that can be checked without writing is checked for every object
// first, so a bad manifest is refused with every problem at once; what can only fail while
// writing (an address taken by a concurrent apply, a store error) rolls back the journal, so a
// refused manifest leaves the store as it was.
import { cloneJson } from '../api/clone.js';
import { ImmutableFieldError, mergeForApply } from '../api/merge.js';
import { schedulePods } from '../api/schedule.js';
import type { ClusterNetwork, KubeObject, Namespace, Node, Pod, Service } from '../api/types.js';
import {
  applyObject,
  getClusterNetwork,
  getObject,
  listObjects,
  type ApplyAction,
} from '../store/objects.js';
import type { Store } from '../store/store.js';
import { OperationError, UsageError, errorMessage } from '../util/errors.js';
import { Journal } from './journal.js';
import {
  SYSTEM_NAMESPACES,
  namespaceObject,
  namespaceOf,
  namespaceProblem,
  withNameLabel,
} from './namespaces.js';
import { connectivityCuts } from './network-change.js';
import { admitPod } from './pods.js';
import { admitService } from './services.js';

export interface Applied {
  object: KubeObject;
  action: ApplyAction;
  /** What the author should know about the object as admitted (kubectl's `Warning:`). */
  warnings?: string[];
}

/** `Service shop/web` or `Node node-1`: how errors name an object. */
export function describeObject(obj: KubeObject): string {
  const ns = namespaceOf(obj);
  return `${obj.kind} ${ns ? `${ns}/` : ''}${obj.metadata.name}`;
}

/**
 * Writes the manifest's objects (already parsed and validated one by one) all or nothing.
 * Returns each object as stored with what happened to it, in manifest order.
 */
export async function applyManifest(
  store: Store,
  objects: readonly KubeObject[],
  network: ClusterNetwork['spec'],
): Promise<Applied[]> {
  const existing = await readExisting(store, objects);
  await checkAgainstStore(store, objects, existing);
  await checkNetworkChange(store, objects, existing);
  const placed = await placePods(store, objects.map(withDefaults), existing);
  const pods = await admitPods(store, placed);

  const journal = new Journal(store);
  try {
    await createSystemNamespaces(journal, pods.objects);
    const out: Applied[] = [];
    for (const obj of pods.objects) {
      const old = existing.get(describeObject(obj));
      const merged = mergeForApply(old, obj);
      const admitted =
        merged.kind === 'Service'
          ? await named(merged, admitService(journal, merged, old as Service | undefined, network))
          : merged;
      const warnings = pods.warnings.get(obj);
      out.push({ ...(await applyObject(journal, admitted)), ...(warnings ? { warnings } : {}) });
    }
    journal.commit();
    return out;
  } catch (err) {
    try {
      await journal.rollback();
    } catch (undo) {
      // Both matter to whoever reads it: why the manifest failed, and what was left behind.
      throw new OperationError(`${errorMessage(err)}\n${errorMessage(undo)}`);
    }
    throw err;
  }
}

export type Existing = Map<string, KubeObject | undefined>;

async function readExisting(store: Store, objects: readonly KubeObject[]): Promise<Existing> {
  const out: Existing = new Map();
  for (const obj of objects) {
    out.set(
      describeObject(obj),
      await getObject(store, obj.kind, namespaceOf(obj), obj.metadata.name),
    );
  }
  return out;
}

/**
 * The checks against what is stored, for every object before anything is written: fields that
 * cannot change, and the namespace each new object goes into.
 */
export async function checkAgainstStore(
  store: Store,
  objects: readonly KubeObject[],
  existing: Existing,
): Promise<void> {
  const namespaces = new Map<string, Namespace>();
  for (const ns of (await listObjects(store, 'Namespace')).items)
    namespaces.set(ns.metadata.name, ns);
  checkAgainstNamespaces(objects, existing, namespaces);
}

/** checkAgainstStore with the namespaces the objects go into already read. */
export function checkAgainstNamespaces(
  objects: readonly KubeObject[],
  existing: Existing,
  namespaces: Map<string, Namespace>,
): void {
  for (const obj of objects) {
    if (obj.kind === 'Namespace' && !namespaces.has(obj.metadata.name)) {
      namespaces.set(obj.metadata.name, obj);
    }
  }
  const errors: string[] = [];
  for (const obj of objects) {
    const old = existing.get(describeObject(obj));
    try {
      mergeForApply(old, obj);
    } catch (err) {
      if (!(err instanceof ImmutableFieldError)) throw err;
      errors.push(`${describeObject(obj)}: ${err.message}`);
    }
    const problem = old ? undefined : namespaceProblem(obj, namespaces);
    if (problem) errors.push(`${describeObject(obj)}: ${problem}`);
  }
  if (errors.length > 0) throw new UsageError(errors.join('\n'));
}

/**
 * A changed ClusterNetwork is refused, with every reason, when it would cut what runs now
 * (pods, node subnets and services outside its ranges); the MTU against each host's underlay is
 * `apply --plan`'s check, which reads the hosts.
 */
async function checkNetworkChange(
  store: Store,
  objects: readonly KubeObject[],
  existing: Existing,
): Promise<void> {
  const proposed = objects.find((o): o is ClusterNetwork => o.kind === 'ClusterNetwork');
  if (!proposed) return;
  const stored = existing.get(describeObject(proposed)) as ClusterNetwork | undefined;
  // A cluster that never stored its ClusterNetwork runs on the defaults.
  const current = stored?.spec ?? (await getClusterNetwork(store));
  const next = stored ? (mergeForApply(stored, proposed) as ClusterNetwork).spec : proposed.spec;
  const [nodes, pods, services] = await Promise.all([
    listObjects(store, 'Node'),
    listObjects(store, 'Pod'),
    listObjects(store, 'Service'),
  ]);
  const cuts = connectivityCuts(current, next, {
    nodes: nodes.items,
    pods: pods.items,
    services: services.items,
  });
  if (cuts.length > 0) {
    throw new UsageError(cuts.map((c) => `${describeObject(proposed)}: ${c}`).join('\n'));
  }
}

/** Defaults no manifest can override: a Namespace's name label; deletion is not applied. */
export function withDefaults(obj: KubeObject): KubeObject {
  const out = cloneJson(obj);
  delete out.metadata.deletionTimestamp;
  delete out.metadata.deletionGracePeriodSeconds;
  return out.kind === 'Namespace' ? withNameLabel(out) : out;
}

/** Pods without a node are spread over the nodes known now, including ones in this manifest. */
export async function placePods(
  store: Store,
  objects: KubeObject[],
  existing: Existing,
): Promise<KubeObject[]> {
  const pending = objects.filter(
    (o): o is Pod =>
      o.kind === 'Pod' &&
      !o.spec.nodeName &&
      !(existing.get(describeObject(o)) as Pod)?.spec.nodeName,
  );
  if (pending.length === 0) return objects;
  const nodes = new Map<string, Node>();
  for (const n of (await listObjects(store, 'Node')).items) nodes.set(n.metadata.name, n);
  for (const o of objects) if (o.kind === 'Node') nodes.set(o.metadata.name, o);
  const pods = (await listObjects(store, 'Pod')).items;
  const scheduled = schedulePods(pending, [...nodes.values()], pods);
  const placed = new Map<KubeObject, Pod>(pending.map((p, i) => [p, scheduled[i]!]));
  return objects.map((o) => placed.get(o) ?? o);
}

/** Each Pod through Pod admission: its warnings, and why it cannot be placed yet. */
async function admitPods(
  store: Store,
  objects: KubeObject[],
): Promise<{ objects: KubeObject[]; warnings: Map<KubeObject, string[]> }> {
  const warnings = new Map<KubeObject, string[]>();
  if (!objects.some((o) => o.kind === 'Pod')) return { objects, warnings };
  const nodes = (await listObjects(store, 'Node')).items;
  for (const o of objects) if (o.kind === 'Node') nodes.push(o);
  const admitted = objects.map((o) => {
    if (o.kind !== 'Pod') return o;
    const { pod, warnings: w } = admitPod(o, nodes);
    if (w.length > 0) warnings.set(pod, w);
    return pod;
  });
  return { objects: admitted, warnings };
}

/** The system namespaces the manifest's objects live in, created when they do not exist yet. */
export async function createSystemNamespaces(store: Store, objects: readonly KubeObject[]) {
  const used = new Set(objects.map(namespaceOf).filter((ns) => ns !== undefined));
  for (const ns of used) {
    if (objects.some((o) => o.kind === 'Namespace' && o.metadata.name === ns)) continue;
    if (SYSTEM_NAMESPACES.includes(ns)) await ensureNamespace(store, ns);
  }
}

/** Creates the Namespace when absent (a system namespace on first use, or at cluster start). */
export async function ensureNamespace(store: Store, name: string): Promise<void> {
  if (await getObject(store, 'Namespace', undefined, name)) return;
  await applyObject(store, namespaceObject(name));
}

/** Admission errors name the object they are about, as validation errors do. */
export async function named<T>(obj: KubeObject, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${describeObject(obj)}: ${err.message}`);
    throw err;
  }
}
