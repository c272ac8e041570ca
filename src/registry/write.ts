// Writing one object at a time, the Kubernetes API's way: create refuses a name that exists,
// replace refuses an object changed since the caller read it. Admission is applyManifest's own
// (namespace checks, pod placement, cluster IPs and node ports from the one allocator), and a
// write that fails gives back what it took. `dryRun` runs the checks and writes nothing.
import { randomUUID } from 'node:crypto';
import { cloneJson } from '../api/clone.js';
import { mergeForApply } from '../api/merge.js';
import type { ClusterNetwork, KubeObject, Namespace, Service } from '../api/types.js';
import { StaleReadError, createObject, getObject, replaceObject } from '../store/objects.js';
import type { KeyRevision, Store, SwapOptions } from '../store/store.js';
import { OperationError } from '../util/errors.js';
import {
  checkAgainstNamespaces,
  createSystemNamespaces,
  describeObject,
  named,
  placePods,
  withDefaults,
} from './apply.js';
import { Journal } from './journal.js';
import { namespaceOf, stamp } from './namespaces.js';
import { admitService } from './services.js';

/** Why a single-object write was refused, for callers that answer with a status code. */
export class WriteRefusedError extends Error {
  constructor(
    readonly reason: 'exists' | 'not-found' | 'changed',
    message: string,
  ) {
    super(message);
    this.name = 'WriteRefusedError';
  }
}

export interface WriteOptions {
  network: ClusterNetwork['spec'];
  dryRun?: boolean;
  /**
   * The keys `network` and the create's namespace were read from, at the revisions read: the
   * object is written only if they are still there (else StaleReadError).
   */
  unchanged?: readonly KeyRevision[];
}

/** What a create reads before it writes: the namespace the object goes into. */
export interface CreateRead {
  namespace: string | undefined;
  home: Namespace | undefined;
}

/**
 * The namespace a create goes into, read when the caller has not read it already. Whether the
 * name is taken is not read: the write itself refuses a taken name, and only a refused create
 * asks.
 */
async function readForCreate(store: Store, namespace: string | undefined): Promise<CreateRead> {
  const home =
    namespace === undefined ? undefined : await getObject(store, 'Namespace', undefined, namespace);
  return { namespace, home };
}

export interface CreateOptions extends WriteOptions {
  /** This object's namespace as the caller has read it (else it is read here). */
  read?: CreateRead;
}

/** Creates the object (already validated); returns it as stored. */
export async function createOne(
  store: Store,
  obj: KubeObject,
  opts: CreateOptions,
): Promise<KubeObject> {
  const who = describeObject(obj);
  const exists = () => new WriteRefusedError('exists', `${who} already exists`);
  const namespace = namespaceOf(obj);
  const read =
    opts.read && opts.read.namespace === namespace
      ? opts.read
      : await readForCreate(store, namespace);
  // That the name is taken is the first thing to say, whatever else refused the object.
  const nameTaken = async () =>
    (await getObject(store, obj.kind, namespace, obj.metadata.name)) !== undefined;
  let fresh: KubeObject;
  try {
    const namespaces = new Map(read.home ? [[read.home.metadata.name, read.home]] : []);
    checkAgainstNamespaces([obj], new Map([[who, undefined]]), namespaces);
    // withDefaults copies, and placement makes a new object: `obj` itself is never changed.
    [fresh] = (await placePods(store, [withDefaults(obj)], new Map())) as [KubeObject];
  } catch (err) {
    if (await nameTaken()) throw exists();
    throw err;
  }
  fresh.metadata.uid = randomUUID();
  fresh.metadata.creationTimestamp = stamp(new Date());
  fresh.metadata.generation = 1;
  delete fresh.metadata.resourceVersion;
  if (opts.dryRun) {
    if (await nameTaken()) throw exists();
    return fresh;
  }
  const journal = new Journal(store);
  try {
    // A namespace read as existing needs no creating (a system one is made on first use).
    if (!read.home) await createSystemNamespaces(journal, [fresh]);
    const admitted = await admit(journal, fresh, undefined, opts.network);
    const created = await createObject(journal, admitted, { unchanged: opts.unchanged });
    if (!created) throw exists();
    journal.commit();
    return created;
  } catch (err) {
    await journal.rollback();
    // The caller reads again and creates again: the name is looked at then.
    if (err instanceof StaleReadError) throw err;
    if (!(err instanceof WriteRefusedError) && (await nameTaken())) throw exists();
    throw err;
  }
}

export interface ReplaceOptions extends WriteOptions {
  /** Which part the caller writes: the object without its status, or only the status. */
  part: 'main' | 'status';
  /** The stored object as the caller has just read it, so that the first try reads nothing. */
  current?: KubeObject;
}

/**
 * Replaces the stored object. When `obj.metadata.resourceVersion` is set the stored one must
 * still be at it; without one, the write is retried over concurrent writers (agents write
 * status meanwhile).
 */
export async function replaceOne(
  store: Store,
  obj: KubeObject,
  opts: ReplaceOptions,
): Promise<KubeObject> {
  const who = describeObject(obj);
  const expected = obj.metadata.resourceVersion;
  for (let attempt = 0; attempt < 50; attempt++) {
    const old =
      attempt === 0 && opts.current
        ? opts.current
        : await getObject(store, obj.kind, namespaceOf(obj), obj.metadata.name);
    if (!old) throw new WriteRefusedError('not-found', `${who} not found`);
    if (expected !== undefined && expected !== old.metadata.resourceVersion) throw changed(who);
    const next = opts.part === 'status' ? withStatusOf(old, obj) : replaced(old, obj);
    if (opts.dryRun) return next;
    const swap = { unchanged: opts.unchanged };
    const written =
      next.kind === 'Service'
        ? await replaceService(store, next, old, opts.network, swap)
        : // Nothing else is allocated: the one conditional write needs no journal (whose undo
          // record would cost a read before it).
          await replaceObject(store, next, Number(old.metadata.resourceVersion), swap);
    if (written) return written;
    if (expected !== undefined) throw changed(who);
  }
  throw new OperationError(`store: ${who} kept changing under update; try again`);
}

/** A Service's write with its cluster IP and node ports, all given back if it fails. */
async function replaceService(
  store: Store,
  next: KubeObject,
  old: KubeObject,
  network: ClusterNetwork['spec'],
  swap: SwapOptions,
): Promise<KubeObject | undefined> {
  const journal = new Journal(store);
  try {
    const admitted = await admit(journal, next, old, network);
    const written = await replaceObject(
      journal,
      admitted,
      Number(old.metadata.resourceVersion),
      swap,
    );
    if (written) journal.commit();
    else await journal.rollback();
    return written;
  } catch (err) {
    await journal.rollback();
    throw err;
  }
}

function changed(who: string): WriteRefusedError {
  return new WriteRefusedError(
    'changed',
    `${who}: the object has been modified; please apply your changes to the latest version and try again`,
  );
}

/**
 * The new object over the old: identity, allocations, placement and deletion kept as `apply`
 * keeps them, but labels and annotations exactly as given (a replace may remove them), the
 * status as stored, and the generation counting spec changes.
 */
function replaced(old: KubeObject, obj: KubeObject): KubeObject {
  const next = mergeForApply(old, withDefaults(obj));
  if (obj.metadata.annotations) next.metadata.annotations = { ...obj.metadata.annotations };
  else delete next.metadata.annotations;
  if ('status' in old && old.status !== undefined) {
    (next as { status?: unknown }).status = cloneJson(old.status);
  } else delete (next as { status?: unknown }).status;
  const specChanged =
    JSON.stringify((old as { spec?: unknown }).spec) !==
    JSON.stringify((next as { spec?: unknown }).spec);
  const generation = old.metadata.generation ?? 1;
  next.metadata.generation = specChanged ? generation + 1 : generation;
  return next;
}

/** The stored object with only its status taken from `obj` (the status subresource). */
function withStatusOf(old: KubeObject, obj: KubeObject): KubeObject {
  const next = cloneJson(old) as KubeObject & { status?: unknown };
  const status = (obj as { status?: unknown }).status;
  if (status === undefined) delete next.status;
  else next.status = cloneJson(status);
  return next;
}

/** Services get their cluster IP and node ports here, as in applyManifest. */
async function admit(
  journal: Journal,
  obj: KubeObject,
  old: KubeObject | undefined,
  network: ClusterNetwork['spec'],
): Promise<KubeObject> {
  if (obj.kind !== 'Service') return obj;
  return named(obj, admitService(journal, obj, old as Service | undefined, network));
}
