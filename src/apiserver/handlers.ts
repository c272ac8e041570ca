// The verbs on a resource, over the store and through the registry: get, list, create, update,
// patch, delete, deletecollection (watch is in watch.ts). Each returns the status code and the
// body to send; refusals are thrown as ApiError.
import { ImmutableFieldError } from '../api/merge.js';
import type { KubeObject } from '../api/types.js';
import { deleteObject } from '../registry/delete.js';
import { WriteRefusedError, createOne, replaceOne } from '../registry/write.js';
import { StaleReadError, decodeObject, getObject, objectKey } from '../store/objects.js';
import type { Store } from '../store/store.js';
import { OperationError, UsageError } from '../util/errors.js';
import { admissionError, checkObject, unknownFields, type FieldValidation } from './admission.js';
import {
  admissionReads,
  currentObject,
  type AdmissionReads,
  type ReadContext,
  type ReadSource,
} from './admission-reads.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch } from './patch.js';
import type { Resource } from './resources.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  invalid,
  notFound,
  unsupportedMediaType,
} from './status.js';
import { storedJson } from './stored-json.js';

export interface Target {
  resource: Resource;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface Reply {
  code: number;
  body: unknown;
  warnings?: string[];
}

const subject = (t: Target, name = t.name) => ({
  resource: t.resource.plural,
  group: t.resource.group,
  name,
});

export async function getOne(store: Store, t: Target): Promise<KubeObject> {
  const obj = await getObject(store, t.resource.kind, t.namespace, t.name!);
  if (!obj) throw notFound(subject(t));
  return obj;
}

/**
 * The object as `getOne` has it, as JSON text: the stored bytes with the resourceVersion
 * spliced in (stored-json.ts), as a list sends them, rather than decoded and encoded again on
 * every get.
 */
export async function getOneJson(store: Store, t: Target): Promise<string> {
  const kv = await store.get(objectKey(t.resource.kind, t.namespace, t.name!));
  if (!kv) throw notFound(subject(t));
  return storedJson(kv.key, kv.value, kv.modRevision);
}

export interface WriteRequest extends ReadContext {
  target: Target;
  body: unknown;
  dryRun: boolean;
  fieldValidation: FieldValidation;
}

/** A name from `generateName`: the prefix and five random characters, as Kubernetes makes it. */
function generatedName(prefix: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let out = prefix;
  for (let i = 0; i < 5; i++) out += alphabet[Math.floor(Math.random() * alphabet.length)];
  return out;
}

export async function create(w: WriteRequest): Promise<Reply> {
  const { resource } = w.target;
  // The body was parsed for this request alone: naming it in place changes nothing of anyone's.
  const body = w.body as { metadata?: { name?: string; generateName?: string } };
  if (body && typeof body === 'object' && body.metadata) {
    if (!body.metadata.name && body.metadata.generateName) {
      body.metadata.name = generatedName(body.metadata.generateName);
    }
  }
  if (!body?.metadata?.name) {
    throw invalid(resource.kind, resource.group, '', [
      {
        field: 'metadata.name',
        reason: 'FieldValueRequired',
        message: 'Required value: name or generateName is required',
      },
    ]);
  }
  const namespace = resource.namespaced ? w.target.namespace : undefined;
  const name = body.metadata.name;
  return admitted(w, { ...w.target, name }, async (source) => {
    const reads = await admissionReads(w, namespace, source);
    const { object, warnings } = checkObject(body, {
      resource,
      namespace: w.target.namespace,
      network: reads.network,
      fieldValidation: w.fieldValidation,
    });
    const created = await createOne(w.store, object, {
      network: reads.network,
      dryRun: w.dryRun,
      read: { namespace, home: reads.home },
      unchanged: reads.unchanged,
    });
    return { code: 201, body: created, warnings };
  });
}

/** How many times a write is admitted again from the store after what it read has moved. */
const STALE_READ_TRIES = 10;

/**
 * Admits and writes, the first time from the caches. Only a success is taken from that try:
 * any refusal, and a write refused because what it read had moved, is decided again from the
 * store, so that every refusal is the store's word. A failed operation (the store unreachable,
 * a write that may have been made) is not tried again. A dry run, which has no write to check
 * that its reads are current, reads the store from the start. `again` says which other
 * refusals from the store are worth another try.
 */
async function admitted(
  w: WriteRequest,
  t: Target,
  write: (source: ReadSource) => Promise<Reply>,
  again: (err: unknown) => boolean = () => false,
): Promise<Reply> {
  if (!w.dryRun) {
    try {
      return await write('cache');
    } catch (err) {
      if (err instanceof OperationError) throw refusal(err, t);
    }
  }
  for (let attempt = 1; ; attempt++) {
    try {
      return await write('store');
    } catch (err) {
      if (err instanceof StaleReadError && attempt < STALE_READ_TRIES) continue;
      if (err instanceof StaleReadError) {
        throw new OperationError(
          `${t.resource.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name ?? ''}: what it is admitted against kept changing under the write; try again`,
        );
      }
      if (again(err) && attempt < STALE_READ_TRIES) continue;
      throw refusal(err, t);
    }
  }
}

export async function update(w: WriteRequest): Promise<Reply> {
  const { resource } = w.target;
  return admitted(w, w.target, async (source) => {
    const reads = await admissionReads(w, undefined, source);
    const { object, warnings } = checkObject(w.body, {
      resource,
      namespace: w.target.namespace,
      network: reads.network,
      fieldValidation: w.fieldValidation,
    });
    if (object.metadata.name !== w.target.name) {
      throw badRequest(
        `the name of the object (${object.metadata.name}) does not match the name on the URL (${w.target.name})`,
      );
    }
    return { code: 200, body: await writeReplacement(w, object, reads), warnings };
  });
}

/**
 * Update's and patch's last step: the checked object written over the stored one, whole or,
 * on the status subresource, only its status. `current` is the stored object the caller has
 * just read, if it has.
 */
function writeReplacement(
  w: WriteRequest,
  object: KubeObject,
  reads: AdmissionReads,
  current?: KubeObject,
): Promise<KubeObject> {
  return replaceOne(w.store, object, {
    network: reads.network,
    dryRun: w.dryRun,
    part: w.target.subresource === 'status' ? 'status' : 'main',
    current,
    unchanged: reads.unchanged,
  });
}

export type PatchType = 'json' | 'merge' | 'strategic';

export function patchTypeOf(contentType: string | undefined, resource: Resource): PatchType {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (media === 'application/json-patch+json') return 'json';
  if (media === 'application/merge-patch+json') return 'merge';
  if (media === 'application/strategic-merge-patch+json' && resource.mergeKeys) {
    return 'strategic';
  }
  throw unsupportedMediaType(media);
}

export async function patch(w: WriteRequest & { type: PatchType }): Promise<Reply> {
  const { resource } = w.target;
  const key = objectKey(resource.kind, w.target.namespace, w.target.name!);
  let pinned = false;
  const write = async (source: ReadSource): Promise<Reply> => {
    const [reads, kv] = await Promise.all([
      admissionReads(w, undefined, source),
      currentObject(w, resource, key, source),
    ]);
    if (!kv) throw notFound(subject(w.target));
    const current = decodeObject(kv);
    const patched = patchedObject(current, w.body, w.type, resource) as KubeObject;
    pinned = patched.metadata?.resourceVersion !== current.metadata.resourceVersion;
    const { object, warnings } = checkObject(patched, {
      resource,
      namespace: w.target.namespace,
      network: reads.network,
      fieldValidation: w.fieldValidation,
      alreadyUnknown: () => unknownFields(current, reads.network),
    });
    if (object.metadata.name !== current.metadata.name) {
      throw badRequest('a patch cannot change metadata.name');
    }
    return { code: 200, body: await writeReplacement(w, object, reads, current), warnings };
  };
  // Someone wrote in between: patch the newer object, unless the patch named a version.
  const raced = (err: unknown) =>
    err instanceof WriteRefusedError && err.reason === 'changed' && !pinned;
  return admitted(w, w.target, write, raced);
}

function patchedObject(current: KubeObject, body: unknown, type: PatchType, r: Resource) {
  switch (type) {
    case 'json':
      return applyJsonPatch(current, body);
    case 'merge':
      return applyMergePatch(current, body);
    case 'strategic':
      return applyStrategicMergePatch(current, body, r.mergeKeys!);
  }
}

export interface DeleteRequest {
  store: Store;
  target: Target;
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

export async function remove(d: DeleteRequest): Promise<Reply> {
  const current = await getOne(d.store, d.target);
  const pre = d.preconditions;
  if (pre?.uid && pre.uid !== current.metadata.uid) {
    throw conflict(
      subject(d.target),
      `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`,
    );
  }
  if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
    throw conflict(
      subject(d.target),
      `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
    );
  }
  if (d.dryRun) return { code: 200, body: current };
  try {
    const outcome = await deleteObject(
      d.store,
      current.kind,
      d.target.namespace,
      current.metadata.name,
      {
        gracePeriodSeconds: d.gracePeriodSeconds,
        force: d.gracePeriodSeconds === 0,
        // As Kubernetes: the namespace controller deletes a namespace's contents afterwards.
        namespaceContents: 'later',
      },
    );
    if (outcome === 'not-found') throw notFound(subject(d.target));
    const after =
      outcome === 'terminating'
        ? await getObject(d.store, current.kind, d.target.namespace, current.metadata.name)
        : undefined;
    return { code: 200, body: after ?? current };
  } catch (err) {
    throw refusal(err, d.target);
  }
}

/** The registry's refusals as Kubernetes words them. */
function refusal(err: unknown, t: Target): unknown {
  if (err instanceof ApiError) return err;
  if (err instanceof WriteRefusedError) {
    if (err.reason === 'exists') return alreadyExists(subject(t));
    if (err.reason === 'not-found') return notFound(subject(t));
    return conflict(
      subject(t),
      'the object has been modified; please apply your changes to the latest version and try again',
    );
  }
  if (err instanceof UsageError) return admissionError(err, t.resource, t.name ?? '');
  if (err instanceof ImmutableFieldError) {
    return admissionError(new UsageError(err.message), t.resource, t.name ?? '');
  }
  return err;
}
