// Where this host's routes come from — the store's Nodes or BGP — followed while the agent
// runs: the cluster-wide `routing`, or this host's own during a staged rollout. Make before
// break: towards BGP the speaker starts while routing keeps the store's routes, and BGP takes
// over once it has spoken (routes a peer has in both are the same `proto 80` route); towards
// the store, routing takes the store's Nodes first and the speaker stops after, leaving as in
// a graceful restart so that peers keep this host's routes meanwhile.
import { effectiveNetwork } from '../api/node-settings.js';
import { errorMessage } from '../util/errors.js';
import { BgpController } from './bgp.js';
import type { Controller } from './controller.js';
import type { RoutingController } from './routing.js';

export function routingSourceController(routing: RoutingController): Controller {
  let bgp: BgpController | undefined;
  /** Switches one at a time, the last one asked for winning. */
  let switching: Promise<void> = Promise.resolve();
  let stopped = false;
  return {
    name: 'routing-source',
    async start(ctx) {
      const self = ctx.options.nodeName;
      const nodes = ctx.informers.informer('Node');
      const networks = ctx.informers.informer('ClusterNetwork');
      const wanted = (): 'store' | 'bgp' =>
        effectiveNetwork(networks.cache.get('default')?.spec, nodes.cache.get(self)).routing;
      const follow = async (): Promise<void> => {
        if (stopped || (wanted() === 'bgp') === (bgp !== undefined)) return;
        if (wanted() === 'bgp') {
          ctx.log.info({ node: self }, 'routing source: store -> bgp');
          await routing.setSource(true);
          const speaker = new BgpController({ routeTo: (n) => routing.routeTo(n) });
          await speaker.start(ctx);
          bgp = speaker;
        } else {
          ctx.log.info({ node: self }, 'routing source: bgp -> store');
          await routing.setSource(false);
          await bgp?.stop();
          bgp = undefined;
          // What the stopped speaker last said about itself no longer holds.
          ctx.health.setError('bgp', undefined);
          ctx.health.setReady('bgp', true);
        }
      };
      const changed = (): Promise<void> => {
        switching = switching
          .then(follow)
          .catch((err) =>
            ctx.log.error({ err: errorMessage(err) }, 'could not switch the routing source'),
          );
        return switching;
      };
      nodes.addHandler((c) => (c.name === self ? changed() : undefined));
      networks.addHandler((c) => (c.object.metadata.name === 'default' ? changed() : undefined));
      await Promise.all([nodes.synced, networks.synced]);
      await changed();
      ctx.health.setReady('routing-source', true);
    },
    async stop() {
      stopped = true;
      await switching;
      await bgp?.stop();
    },
  };
}
