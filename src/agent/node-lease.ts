// This node's heartbeat, as kubelet keeps its own: a Lease `kube-node-lease/<node>` whose
// renewTime the agent moves forward every quarter of its duration. Peers read a Lease that
// stops moving as an agent that died (node-lifecycle.ts); the Lease itself never expires.
import { NODE_LEASE_NAMESPACE, type Lease } from '../api/types.js';
import { ensureNamespace } from '../registry/apply.js';
import { createObject, updateObject } from '../store/objects.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

/** kubelet's node lease duration, which is also Kubernetes' node-monitor grace period. */
export const DEFAULT_NODE_LEASE_SECONDS = 40;

/** `PODNET_NODE_LEASE_SECONDS` shortens the duration for tests; kubelet's 40 s otherwise. */
export function nodeLeaseSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.PODNET_NODE_LEASE_SECONDS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_NODE_LEASE_SECONDS;
}

/** Kubernetes' MicroTime: RFC 3339 with six fractional digits. */
export function microTime(at: Date): string {
  return at.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function nodeLease(node: string, durationSeconds: number, now: Date): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: node, namespace: NODE_LEASE_NAMESPACE },
    spec: {
      holderIdentity: node,
      leaseDurationSeconds: durationSeconds,
      acquireTime: microTime(now),
      renewTime: microTime(now),
    },
  };
}

export class NodeLeaseController implements Controller {
  readonly name = 'node-lease';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly durationSeconds = nodeLeaseSeconds()) {}

  async start(ctx: AgentContext): Promise<void> {
    await ensureNamespace(ctx.store, NODE_LEASE_NAMESPACE);
    await this.renew(ctx);
    ctx.health.setReady(this.name, true);
    this.timer = setInterval(
      () => {
        this.renew(ctx).catch((err: unknown) =>
          ctx.log.warn({ err: errorMessage(err) }, 'could not renew the node lease; retrying'),
        );
      },
      (this.durationSeconds * 1000) / 4,
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
  }

  private async renew(ctx: AgentContext): Promise<void> {
    const node = ctx.options.nodeName;
    const now = new Date();
    for (;;) {
      const renewed = await updateObject(ctx.store, 'Lease', NODE_LEASE_NAMESPACE, node, (l) => ({
        ...l,
        spec: {
          ...l.spec,
          holderIdentity: node,
          leaseDurationSeconds: this.durationSeconds,
          renewTime: microTime(now),
        },
      }));
      if (renewed) return;
      if (await createObject(ctx.store, nodeLease(node, this.durationSeconds, now))) return;
    }
  }
}
