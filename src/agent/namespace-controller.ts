// The namespace controller: finishes what deleting a Namespace through the API server begins.
// The API server only marks a namespace Terminating; this controller deletes what is in it
// (pods gracefully, so that their nodes tear them down first) and removes the namespace once it
// is empty. Every agent runs it, but only the elected leader acts (once per cluster).
import type { Namespace } from '../api/types.js';
import { deleteNamespaceContents } from '../registry/delete.js';
import { isTerminating } from '../registry/namespaces.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';
import { campaignAmongNodes, type Election } from './leader.js';

const NAME = 'namespaces';
/** Kubernetes' default leader-election lease duration. */
/**
 * How long after a namespace turns Terminating its contents are first deleted: a client that
 * deletes the namespace together with its contents (`kubectl delete -f` of a manifest that
 * starts with the Namespace) deletes them itself meanwhile, and would otherwise find them gone.
 */
export const SETTLE_MS = 2000;
/** Wait before looking again at a namespace whose pods are still being torn down. */
const RETRY_MS = 1000;

/** Milliseconds until the controller should first delete the namespace's contents. */
export function contentsDeletionDelayMs(ns: Namespace, now: Date): number {
  const since = Date.parse(ns.metadata.deletionTimestamp ?? '');
  if (Number.isNaN(since)) return 0;
  return Math.max(0, Math.min(SETTLE_MS, since + SETTLE_MS - now.getTime()));
}

export interface NamespaceControllerOptions {
  leaseSeconds?: number;
}

export function namespaceController(opts: NamespaceControllerOptions = {}): Controller {
  let election: Election | undefined;
  let stopped = false;
  let leading = false;
  const timers = new Map<string, NodeJS.Timeout>();
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const log = ctx.log.child({ controller: NAME });
      const namespaces = ctx.informers.informer('Namespace');
      // One pass at a time: passes over one namespace must not race each other's deletes.
      let passes: Promise<void> = Promise.resolve();

      const schedule = (name: string, delayMs: number): void => {
        if (stopped || !leading || timers.has(name)) return;
        const timer = setTimeout(() => {
          timers.delete(name);
          passes = passes.then(() => finish(name));
        }, delayMs);
        timers.set(name, timer);
      };

      const finish = async (name: string): Promise<void> => {
        if (stopped || !leading) return;
        try {
          const outcome = await deleteNamespaceContents(ctx.store, name);
          if (outcome === 'deleted') log.info({ namespace: name }, 'namespace deleted');
          if (outcome === 'terminating') schedule(name, RETRY_MS);
        } catch (err) {
          ctx.health.setError(NAME, errorMessage(err));
          log.warn({ namespace: name, err: errorMessage(err) }, 'namespace not finished');
          schedule(name, RETRY_MS);
        }
      };

      const consider = (ns: Namespace): void => {
        if (isTerminating(ns)) {
          schedule(ns.metadata.name, contentsDeletionDelayMs(ns, new Date()));
        }
      };

      namespaces.addHandler((c) => (c.type === 'deleted' ? undefined : consider(c.object)));
      await namespaces.synced;

      election = campaignAmongNodes(ctx, 'namespace-controller', {
        leaseSeconds: opts.leaseSeconds,
        log,
        onElected: () => {
          leading = true;
          for (const ns of namespaces.cache.values()) consider(ns);
        },
        onDeposed: () => {
          leading = false;
          for (const timer of timers.values()) clearTimeout(timer);
          timers.clear();
        },
      });
      ctx.health.setReady(NAME, true);
    },
    async stop(): Promise<void> {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await election?.stop();
    },
  };
}
