// The node-lifecycle check, run by every agent over its peers: a Node whose Lease has not moved
// for longer than the Lease's duration has an agent that stopped (killed, host down), and its
// Ready condition becomes Unknown, as Kubernetes' node lifecycle controller does. Every live
// agent checks rather than one elected: the write is an idempotent compare-and-swap, it needs
// no supervisor (real hosts have none) and it keeps working whichever agents are left.
// Silence is measured on this agent's own clock from when it saw the Lease change, so clock
// skew between hosts cannot make a live node look dead.
import {
  AGENT_STOPPED,
  NODE_LEASE_NAMESPACE,
  NODE_STATUS_UNKNOWN,
  type Lease,
  type Node,
  type NodeCondition,
} from '../api/types.js';
import { updateObject } from '../store/objects.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';
import { DEFAULT_NODE_LEASE_SECONDS, nodeLeaseSeconds } from './node-lease.js';

/** When each node's Lease was last seen to change (ms on this agent's clock). */
export type LeaseObservations = ReadonlyMap<string, { renewTime?: string; seenAt: number }>;

/**
 * Nodes to mark Unknown: not this one, silent for longer than their grace period (their
 * Lease's duration), not already Unknown. A node never seen to renew is timed from `since`.
 */
export function silentNodes(
  nodes: readonly Node[],
  leases: ReadonlyMap<string, Lease>,
  seen: LeaseObservations,
  self: string,
  now: number,
  since: number,
): Node[] {
  return nodes.filter((n) => {
    const name = n.metadata.name;
    if (name === self) return false;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'Unknown') return false;
    const grace =
      (leases.get(name)?.spec.leaseDurationSeconds ?? DEFAULT_NODE_LEASE_SECONDS) * 1000;
    const last = Math.max(seen.get(name)?.seenAt ?? since, since);
    return now - last > grace;
  });
}

export function unknownCondition(now: Date): NodeCondition {
  return {
    type: 'Ready',
    status: 'Unknown',
    reason: NODE_STATUS_UNKNOWN,
    message: AGENT_STOPPED,
    lastTransitionTime: now.toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

export class NodeLifecycleController implements Controller {
  readonly name = 'node-lifecycle';
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Map<string, { renewTime?: string; seenAt: number }>();

  constructor(private readonly checkEveryMs = (nodeLeaseSeconds() * 1000) / 4) {}

  async start(ctx: AgentContext): Promise<void> {
    const since = Date.now();
    const leases = ctx.informers.informer('Lease');
    leases.addHandler((change) => {
      const lease = change.object;
      if (lease.metadata.namespace !== NODE_LEASE_NAMESPACE) return;
      const name = lease.metadata.name;
      if (change.type === 'deleted') {
        this.seen.delete(name);
        return;
      }
      if (this.seen.get(name)?.renewTime === lease.spec.renewTime) return;
      this.seen.set(name, { renewTime: lease.spec.renewTime, seenAt: Date.now() });
    });
    const nodes = ctx.informers.informer('Node');
    await Promise.all([leases.synced, nodes.synced]);
    ctx.health.setReady(this.name, true);
    this.timer = setInterval(() => {
      const byNode = new Map<string, Lease>();
      for (const l of leases.cache.values()) {
        if (l.metadata.namespace === NODE_LEASE_NAMESPACE) byNode.set(l.metadata.name, l);
      }
      const silent = silentNodes(
        [...nodes.cache.values()],
        byNode,
        this.seen,
        ctx.options.nodeName,
        Date.now(),
        since,
      );
      for (const n of silent) void this.markUnknown(ctx, n.metadata.name);
    }, this.checkEveryMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  private async markUnknown(ctx: AgentContext, name: string): Promise<void> {
    let marked = false;
    try {
      await updateObject(ctx.store, 'Node', undefined, name, (node) => {
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
        marked = ready?.status !== 'Unknown';
        if (!marked) return undefined;
        const others = (node.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
        node.status = { ...node.status, conditions: [...others, unknownCondition(new Date())] };
        return node;
      });
      if (marked)
        ctx.log.warn({ peer: name }, 'node Ready=Unknown: its agent stopped posting status');
    } catch (err) {
      ctx.log.warn({ peer: name, err: errorMessage(err) }, 'could not mark a silent node');
    }
  }
}
