// Tells a staged rollout that this host runs what it was given: once every controller has
// finished with a change of this host's settings (its Node's rollout generation, or the
// cluster-wide settings when it has none of its own), the generation goes back on the Node as
// applied. Started last, so the controllers it waits for have all added their handlers.
import {
  ANNOTATION_NETWORK_APPLIED,
  appliedGeneration,
  wantedGeneration,
} from '../api/node-settings.js';
import type { Node } from '../api/types.js';
import { updateObject } from '../store/objects.js';
import { errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

export function networkAckController(): Controller {
  let stopped = false;
  return {
    name: 'network-ack',
    async start(ctx) {
      const self = ctx.options.nodeName;
      const nodes = ctx.informers.informer('Node');
      let acking = false;
      const ack = async (node: Node): Promise<void> => {
        // Every handler (routing's reconcile, the pods' resize) is done with this Node first.
        await nodes.waitForRevision(Number(node.metadata.resourceVersion));
        if (stopped) return;
        await writeApplied(ctx, wantedGeneration(node));
      };
      nodes.addHandler((c) => {
        if (c.name !== self || c.type === 'deleted' || acking) return;
        if (appliedGeneration(c.object) === wantedGeneration(c.object)) return;
        acking = true;
        // Not returned: the ack waits for this very change to be processed by every handler.
        void ack(c.object)
          .catch((err) =>
            ctx.log.warn({ err: errorMessage(err) }, 'could not report the applied settings'),
          )
          .finally(() => {
            acking = false;
          });
      });
      await nodes.synced;
      ctx.health.setReady('network-ack', true);
    },
    async stop() {
      stopped = true;
    },
  };
}

async function writeApplied(ctx: AgentContext, generation: string): Promise<void> {
  await updateObject(ctx.store, 'Node', undefined, ctx.options.nodeName, (node: Node) => {
    if (appliedGeneration(node) === generation) return undefined;
    node.metadata.annotations = {
      ...node.metadata.annotations,
      [ANNOTATION_NETWORK_APPLIED]: generation,
    };
    return node;
  });
}
