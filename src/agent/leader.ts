// Leader election over the store, for work that must run once per cluster although every node
// runs an agent (kube-controller-manager's idea, on etcd's own primitive): the leader holds a
// key bound to a store lease and keeps the lease alive; when it stops or dies the lease expires,
// the key goes, and the next agent to look creates it and leads. A leader restarted under the
// same identity leads again at once.
import type { Store } from '../store/store.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { AgentContext } from './controller.js';

/** Where elections keep their keys: beside the objects, never one of them. */
export const ELECTION_PREFIX = '/podnet/elections/';

export interface ElectionOptions {
  /** Seconds the leader's key outlives its last keep-alive (a dead leader's takeover time). */
  ttlSeconds: number;
  /** Told when this process starts leading; what it starts runs until `onDeposed`. */
  onElected(): void;
  /** Told when this process has lost (or given up) the lead. */
  onDeposed(): void;
  log: Logger;
  /**
   * Whether the holder named so has left the cluster (its Node deleted): its key is taken over
   * at once instead of after its lease, which a dead holder no longer keeps alive.
   */
  holderGone?: (holder: string) => boolean;
}

export interface Election {
  isLeader(): boolean;
  /** Runs a round now rather than at the next period (a holder may just have gone). */
  lookNow(): void;
  /** Stops campaigning; a leader gives the lead up at once so that another takes over. */
  stop(): Promise<void>;
}

export function campaign(
  store: Store,
  name: string,
  identity: string,
  opts: ElectionOptions,
): Election {
  const key = `${ELECTION_PREFIX}${name}`;
  let lease: string | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  // Checked three times per lease period, so a keep-alive is never late and a standby notices
  // a vacancy within a third of the period.
  const periodMs = (opts.ttlSeconds * 1000) / 3;

  const depose = (why: string): void => {
    lease = undefined;
    opts.log.warn({ election: name, why }, 'no longer the leader');
    opts.onDeposed();
  };

  const tryToLead = async (): Promise<void> => {
    const held = await store.get(key);
    const holderGone = held !== undefined && opts.holderGone?.(held.value) === true;
    if (held && held.value !== identity && !holderGone) return;
    const granted = await store.grantLease(opts.ttlSeconds);
    // A key held in our own name was left by this node's agent before it was killed (a node
    // runs one agent): taking it over at once spares the cluster a lease period with no
    // leader, as client-go's election does for its own identity. So is a removed node's.
    const won = held
      ? await store.update(key, identity, held.modRevision, { lease: granted })
      : await store.create(key, identity, { lease: granted });
    if (won === undefined) {
      await store.revokeLease(granted);
      return;
    }
    lease = granted;
    opts.log.info(
      { election: name, ...(holderGone ? { from: held.value } : {}) },
      holderGone ? 'leading in place of a removed node' : 'leading',
    );
    opts.onElected();
  };

  const stayLeader = async (held: string): Promise<void> => {
    try {
      await store.keepAlive(held);
    } catch (err) {
      return depose(`lease keep-alive failed: ${errorMessage(err)}`);
    }
    const current = await store.get(key);
    if (current?.lease !== held) depose('the election key is gone or held by another');
  };

  // Rounds run one after another, each scheduling the next.
  const round = async (): Promise<void> => {
    try {
      if (lease === undefined) await tryToLead();
      else await stayLeader(lease);
    } catch (err) {
      opts.log.warn({ election: name, err: errorMessage(err) }, 'election round failed');
    }
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => (running = running.then(round)), periodMs);
  };
  running = round();

  return {
    isLeader: () => lease !== undefined,
    lookNow(): void {
      if (stopped) return;
      clearTimeout(timer);
      running = running.then(round);
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
      const held = lease;
      if (held === undefined) return;
      lease = undefined;
      opts.onDeposed();
      await store.revokeLease(held).catch(() => undefined);
    },
  };
}

/** A lease period when the controller is given none (`PODNET_LEADER_LEASE_TTL` in the agent). */
const DEFAULT_LEASE_SECONDS = 15;

/**
 * An agent's election among the cluster's nodes, standing as its node: a holder whose Node has
 * been deleted is passed over at once (a removed node's work would otherwise wait out its
 * lease), and each deletion of a Node starts a round right away. Until the agent's Node
 * informer has synced no holder counts as gone.
 */
export function campaignAmongNodes(
  ctx: AgentContext,
  name: string,
  opts: Omit<ElectionOptions, 'holderGone' | 'ttlSeconds'> & { leaseSeconds?: number },
): Election {
  const nodes = ctx.informers.informer('Node');
  let synced = false;
  void nodes.synced.then(() => (synced = true));
  const { leaseSeconds, ...rest } = opts;
  const election = campaign(ctx.store, name, ctx.options.nodeName, {
    ...rest,
    ttlSeconds: leaseSeconds ?? DEFAULT_LEASE_SECONDS,
    holderGone: (holder) => synced && !nodes.cache.has(holder),
  });
  nodes.addHandler((c) => {
    if (c.type === 'deleted') election.lookNow();
  });
  return election;
}
