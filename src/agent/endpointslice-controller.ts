// The endpoint-slice controller: for each Service with a selector, writes the EndpointSlices
// and the legacy Endpoints object that list the pods behind it, which is what the proxy and
// DNS on every node read. Every agent runs it, but only the elected leader writes (it must
// happen once per cluster). Writes are compare-and-swap over what the cache held, one service
// at a time; a conflict sends the service back to the queue.
import {
  desiredEndpoints,
  isManagedEndpoints,
  isManagedSlice,
  managesService,
  planEndpointSlices,
  sliceServiceName,
} from '../api/endpoint-slices.js';
import { selectorMatches } from '../api/endpoints.js';
import { LABEL_ZONE, type EndpointSlice, type Pod, type Service } from '../api/types.js';
import { createObject, deleteObjectAt, replaceObject, type ObjectOf } from '../store/objects.js';
import type { Change } from '../store/informer.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';
import { campaignAmongNodes, type Election } from './leader.js';

const NAME = 'endpointslices';
/** Kubernetes' default leader-election lease duration. */
/** Wait before retrying a service whose write conflicted, for the cache to catch up. */
const RETRY_MS = 200;
/** Services reconciled at once: their writes overlap (kube-controller-manager runs 5). */
const WORKERS = 5;

export interface EndpointSliceControllerOptions {
  leaseSeconds?: number;
}

export function endpointSliceController(opts: EndpointSliceControllerOptions = {}): Controller {
  let election: Election | undefined;
  let stopped = false;
  const retries = new Set<NodeJS.Timeout>();
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const log = ctx.log.child({ controller: NAME });
      const services = ctx.informers.informer('Service');
      const pods = ctx.informers.informer('Pod');
      const nodes = ctx.informers.informer('Node');
      const slices = ctx.informers.informer('EndpointSlice');
      const endpoints = ctx.informers.informer('Endpoints');
      const dirty = new Set<string>();
      let draining: Promise<void> | undefined;
      const inFlight = new Set<string>();
      let leading = false;

      const nodeLookup = (name: string): { zone?: string } | undefined => {
        const node = nodes.cache.get(name);
        const zone = node?.metadata.labels?.[LABEL_ZONE];
        return node && (zone === undefined ? {} : { zone });
      };

      // Indexes kept by the handlers, so that one service's pass costs its namespace's pods
      // and its own slices, not the whole cluster's.
      const podsByNamespace = new Index<Pod>();
      const servicesByNamespace = new Index<Service>();
      const slicesByService = new Index<EndpointSlice>();
      const serviceOfSlice = (s: EndpointSlice): string | undefined => {
        const service = sliceServiceName(s);
        return isManagedSlice(s) && service !== undefined
          ? `${namespaceOf(s)}/${service}`
          : undefined;
      };
      const storedSlices = (key: string): EndpointSlice[] => slicesByService.values(key);

      /** Makes one service's slices and Endpoints what its pods say; false on a conflict. */
      const reconcile = async (key: string): Promise<boolean> => {
        const svc = services.cache.get(key);
        const [ns, name] = key.split('/') as [string, string];
        const owned = svc !== undefined && managesService(svc);
        const nsPods = podsByNamespace.values(ns);
        const plan = owned
          ? planEndpointSlices(svc, nsPods, storedSlices(key), nodeLookup)
          : { create: [], update: [], delete: storedSlices(key) };
        let ok = true;
        for (const slice of plan.create)
          ok = (await createObject(ctx.store, slice)) !== undefined && ok;
        for (const slice of plan.update)
          ok = (await replaceObject(ctx.store, slice)) !== undefined && ok;
        for (const slice of plan.delete) ok = (await deleteObjectAt(ctx.store, slice)) && ok;
        const current = endpoints.cache.get(key);
        if (owned) {
          const want = desiredEndpoints(svc, nsPods, nodeLookup);
          if (!current) ok = (await createObject(ctx.store, want)) !== undefined && ok;
          else if (isManagedEndpoints(current) && !sameEndpoints(current, want)) {
            const next = {
              ...want,
              metadata: { ...current.metadata, labels: want.metadata.labels },
            };
            ok = (await replaceObject(ctx.store, next)) !== undefined && ok;
          }
        } else if (current && isManagedEndpoints(current) && !svc) {
          ok = (await deleteObjectAt(ctx.store, current)) && ok;
        }
        if (plan.create.length + plan.update.length + plan.delete.length > 0) {
          log.info(
            { service: `${ns}/${name}`, ...counts(plan) },
            ok ? 'endpoint slices written' : 'endpoint slices changed meanwhile; retrying',
          );
        }
        return ok;
      };

      const retryLater = (key: string): void => {
        const timer = setTimeout(() => {
          retries.delete(timer);
          void enqueue(() => [key]);
        }, RETRY_MS);
        retries.add(timer);
      };

      /** The next queued service that no worker has in hand. */
      const nextKey = (): string | undefined => {
        for (const key of dirty) {
          if (inFlight.has(key)) continue;
          dirty.delete(key);
          return key;
        }
        return undefined;
      };
      const worker = async (): Promise<void> => {
        for (let key = nextKey(); key !== undefined; key = nextKey()) {
          if (!leading || stopped) return;
          inFlight.add(key);
          try {
            if (!(await reconcile(key))) retryLater(key);
          } catch (err) {
            ctx.health.setError(NAME, errorMessage(err));
            log.warn({ service: key, err: errorMessage(err) }, 'endpoint slices not written');
            retryLater(key);
          } finally {
            inFlight.delete(key);
          }
        }
      };

      /** Works through the queue, a few services at a time, never one service twice at once. */
      const drain = (): Promise<void> =>
        (draining ??= (async () => {
          // Yield first, so that `draining` is set before the loop can end and clear it.
          await Promise.resolve();
          while (leading && !stopped && dirty.size > 0) {
            await Promise.all(Array.from({ length: WORKERS }, worker));
          }
          draining = undefined;
        })());

      // Only the leader queues: a new leader starts from everything() anyway.
      const enqueue = (keys: () => Iterable<string>): Promise<void> | undefined => {
        if (!leading) return undefined;
        for (const key of keys()) dirty.add(key);
        return drain();
      };

      /** Every service there is and every one slices or Endpoints still name (orphans). */
      const everything = (): string[] => [
        ...services.cache.keys(),
        ...[...slices.cache.values()]
          .filter(isManagedSlice)
          .map((s) => `${namespaceOf(s)}/${sliceServiceName(s)}`),
        ...[...endpoints.cache.entries()].filter(([, e]) => isManagedEndpoints(e)).map(([k]) => k),
      ];

      services.addHandler((c) => {
        servicesByNamespace.track(c, namespaceOf);
        return enqueue(() => [c.name]);
      });
      pods.addHandler((c) => {
        podsByNamespace.track(c, namespaceOf);
        return enqueue(() => servicesOfPod(servicesByNamespace.values(namespaceOf(c.object)), c));
      });
      // A node's zone label is on every endpoint of it, and a removed node's pods are not ready:
      // the services of its pods.
      nodes.addHandler((c) =>
        c.type !== 'modified' || zoneChanged(c)
          ? enqueue(() => servicesOnNode(c.name, pods.cache.values(), servicesByNamespace))
          : undefined,
      );
      slices.addHandler((c) => {
        slicesByService.track(c, serviceOfSlice);
        const service = serviceOfSlice(c.object);
        return service !== undefined ? enqueue(() => [service]) : undefined;
      });
      endpoints.addHandler((c) => enqueue(() => [c.name]));
      await Promise.all(
        [services, pods, nodes, slices, endpoints].map((informer) => informer.synced),
      );

      election = campaignAmongNodes(ctx, 'endpointslice-controller', {
        leaseSeconds: opts.leaseSeconds,
        log,
        onElected: () => {
          leading = true;
          void enqueue(everything);
        },
        onDeposed: () => {
          leading = false;
        },
      });
      ctx.health.setReady(NAME, true);
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of retries) clearTimeout(timer);
      await election?.stop();
    },
  };
}

function namespaceOf(obj: { metadata: { namespace?: string } }): string {
  return obj.metadata.namespace ?? 'default';
}

/** The services whose selector matches the pod before or after the change. */
function servicesOfPod(services: Iterable<Service>, change: Change<Pod>): string[] {
  const versions = [change.object, ...(change.old ? [change.old] : [])];
  const keys: string[] = [];
  for (const svc of services) {
    const selector = svc.spec.selector;
    if (!selector || namespaceOf(svc) !== namespaceOf(change.object)) continue;
    if (versions.some((p) => selectorMatches(selector, p.metadata.labels))) {
      keys.push(`${namespaceOf(svc)}/${svc.metadata.name}`);
    }
  }
  return keys;
}

/** The services that select a pod on the node. */
function servicesOnNode(
  node: string,
  pods: Iterable<Pod>,
  servicesByNamespace: Index<Service>,
): Set<string> {
  const keys = new Set<string>();
  for (const pod of pods) {
    if (pod.spec.nodeName !== node) continue;
    const services = servicesByNamespace.values(namespaceOf(pod));
    for (const key of servicesOfPod(services, {
      type: 'added',
      name: '',
      object: pod,
      revision: 0,
    })) {
      keys.add(key);
    }
  }
  return keys;
}

/** Objects grouped by a key of theirs (namespace, owning service), kept current by changes. */
class Index<T extends { metadata: { name: string; namespace?: string } }> {
  private readonly groups = new Map<string, Map<string, T>>();

  track(change: Change<T>, keyOf: (obj: T) => string | undefined): void {
    // The informer's own key string: a string of its own per object would cost each pod ~60 B.
    const id = change.name;
    const before = change.old && keyOf(change.old);
    if (before !== undefined) this.groups.get(before)?.delete(id);
    if (before !== undefined && this.groups.get(before)?.size === 0) this.groups.delete(before);
    const after = change.type === 'deleted' ? undefined : keyOf(change.object);
    if (after === undefined) return;
    let group = this.groups.get(after);
    if (!group) this.groups.set(after, (group = new Map()));
    group.set(id, change.object);
  }

  values(key: string): T[] {
    return [...(this.groups.get(key)?.values() ?? [])];
  }
}

function zoneChanged(change: Change<ObjectOf<'Node'>>): boolean {
  return change.old?.metadata.labels?.[LABEL_ZONE] !== change.object.metadata.labels?.[LABEL_ZONE];
}

function sameEndpoints(a: ObjectOf<'Endpoints'>, b: ObjectOf<'Endpoints'>): boolean {
  return (
    JSON.stringify([a.metadata.labels, a.subsets]) ===
    JSON.stringify([b.metadata.labels, b.subsets])
  );
}

function counts(plan: { create: unknown[]; update: unknown[]; delete: unknown[] }) {
  return { created: plan.create.length, updated: plan.update.length, deleted: plan.delete.length };
}
