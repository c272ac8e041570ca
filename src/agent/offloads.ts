// The offloads controller: keeps the device features podnet wants (src/routing/offloads.ts) on
// the underlay device, podnet's tunnels and the pods' veths. It reconciles when this node's
// Node changes and every PERIOD_MS, which repairs a feature someone turned off by hand. A new
// pod's veth is made with its GRO on by the pod-link helper: a reconcile per pod would start
// an `ip` and an `ethtool` per link on the agent's thread while the pod's ADD waits on it.
import { offloadKernel } from '../kernel/link-features.js';
import { hostFromNode } from '../routing/peers.js';
import { offloadCommands, reconcileOffloads } from '../routing/offloads.js';
import { errorMessage } from '../util/errors.js';
import type { Controller } from './controller.js';

export const OFFLOADS_PERIOD_MS = 10_000;

export function offloadsController(): Controller {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    name: 'offloads',
    async start(ctx) {
      const { options, log, health } = ctx;
      const self = options.nodeName;
      const kernel = offloadKernel();
      let nodeIP: string | undefined;
      let running: Promise<void> | undefined;
      let again = false;
      const reconcile = async (): Promise<void> => {
        if (!nodeIP) return;
        try {
          const plan = await reconcileOffloads(kernel, nodeIP, { apply: true });
          if (plan && plan.changes.length > 0) {
            log.info({ node: self, commands: offloadCommands(plan.changes) }, 'offloads set');
          }
          health.setError('offloads', undefined);
        } catch (err) {
          log.warn({ node: self, err: errorMessage(err) }, 'offloads not set');
          health.setError('offloads', errorMessage(err));
        }
        // Ready once tried: an offload the driver refuses costs speed, never reachability.
        health.setReady('offloads', true);
      };
      // One reconcile at a time; a trigger meanwhile runs one more after it.
      const trigger = (): void => {
        if (stopped) return;
        if (running) {
          again = true;
          return;
        }
        running = reconcile().finally(() => {
          running = undefined;
          if (again) {
            again = false;
            trigger();
          }
        });
      };
      ctx.informers.informer('Node').addHandler((c) => {
        if (c.name !== self || c.type === 'deleted') return;
        const ip = hostFromNode(c.object)?.ip;
        if (ip === nodeIP) return;
        nodeIP = ip;
        trigger();
      });
      timer = setInterval(trigger, OFFLOADS_PERIOD_MS);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
