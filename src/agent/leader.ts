// Leader election over the store, for work that must run once per cluster although every node
// runs an agent (kube-controller-manager's idea, on etcd's own primitive): the leader holds a
// key bound to a store lease and keeps the lease alive; when it stops or dies the lease expires,
// the key goes, and the next agent to look creates it and leads. A leader restarted under the
// same identity leads again at once.
import type { Store } from '../store/store.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';

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
}

export interface Election {
  isLeader(): boolean;
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
    if (held && held.value !== identity) return;
    const granted = await store.grantLease(opts.ttlSeconds);
    // A key held in our own name was left by this node's agent before it was killed (a node
    // runs one agent): taking it over at once spares the cluster a lease period with no
    // leader, as client-go's election does for its own identity.
    const won = held
      ? await store.update(key, identity, held.modRevision, { lease: granted })
      : await store.create(key, identity, { lease: granted });
    if (won === undefined) {
      await store.revokeLease(granted);
      return;
    }
    lease = granted;
    opts.log.info({ election: name }, 'leading');
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

  const round = async (): Promise<void> => {
    try {
      if (lease === undefined) await tryToLead();
      else await stayLeader(lease);
    } catch (err) {
      opts.log.warn({ election: name, err: errorMessage(err) }, 'election round failed');
    }
    if (!stopped) timer = setTimeout(() => (running = round()), periodMs);
  };
  running = round();

  return {
    isLeader: () => lease !== undefined,
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
