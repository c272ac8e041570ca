// The proxy controller: watches Services and EndpointSlices, reads each service's endpoints
// from its slices as kube-proxy does, and hands the service ports to the sync loop, which
// programs them in the mode the ClusterNetwork (or `--proxy`) asks for.
import { nodePodCIDR } from '../api/node-network.js';
import { endpointsFromSlices, serviceKey, slicesByService } from '../api/slice-endpoints.js';
import { netfilterKernel } from '../kernel/netfilter.js';
import {
  LABEL_HEADLESS,
  LABEL_SERVICE_PROXY_NAME,
  type EndpointSlice,
  type ProxyMode,
  type Service,
} from '../api/types.js';
import { clusterServicePorts } from '../proxy/from-services.js';
import { proxyMetrics } from '../proxy/metrics.js';
import type { ProxyNetwork, ServicePortRule } from '../proxy/model.js';
import { createProxier } from '../proxy/proxier.js';
import { ProxySyncer } from '../proxy/syncer.js';
import { getClusterNetwork, getObject } from '../store/objects.js';
import { UsageError } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

const NAME = 'proxy';

export function parseProxyMode(value: string, source: string): ProxyMode {
  if (value === 'iptables' || value === 'nftables') return value;
  throw new UsageError(`${source} ${value}: the proxy mode must be iptables or nftables`);
}

/**
 * kube-proxy's label selector on Services and slices alike: what another proxy handles, and the
 * slices of headless services, are not this proxy's.
 */
function forThisProxy(obj: Service | EndpointSlice): boolean {
  const labels = obj.metadata.labels ?? {};
  return !(LABEL_SERVICE_PROXY_NAME in labels) && !(LABEL_HEADLESS in labels);
}

/** Service ports from the current objects: each service with the endpoints its slices list. */
export function currentServicePorts(
  services: Iterable<Service>,
  slices: Iterable<EndpointSlice>,
): ServicePortRule[] {
  const byService = slicesByService([...slices].filter(forThisProxy));
  return clusterServicePorts([...services].filter(forThisProxy), (svc) =>
    endpointsFromSlices(svc, byService.get(serviceKey(svc)) ?? []),
  );
}

export function proxyController(): Controller {
  let syncer: ProxySyncer | undefined;
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const cluster = await getClusterNetwork(ctx.store);
      const override = ctx.options.overrides.proxy;
      const mode = override
        ? parseProxyMode(override, '--proxy')
        : parseProxyMode(cluster.proxyMode, 'ClusterNetwork spec.proxyMode');
      const node = await getObject(ctx.store, 'Node', undefined, ctx.options.nodeName);
      const net: ProxyNetwork = {
        clusterCIDR: cluster.clusterCIDR,
        serviceCIDR: cluster.serviceCIDR,
        nodePodCIDR: node && nodePodCIDR(node),
      };
      const log = ctx.log.child({ controller: NAME, mode });
      const kernel = netfilterKernel();
      const sync = new ProxySyncer(createProxier(mode, net, kernel), {
        log,
        conntrack: kernel.conntrack,
        metrics: proxyMetrics(ctx.metrics),
        onSynced: (error) => {
          ctx.health.setError(NAME, error);
          if (!error) ctx.health.setReady(NAME, true);
        },
      });
      syncer = sync;
      const services = ctx.informers.informer('Service');
      const slices = ctx.informers.informer('EndpointSlice');
      const desired = (): ServicePortRule[] =>
        currentServicePorts(services.cache.values(), slices.cache.values());
      // A change is processed once the rules it led to are in the kernel.
      const resync = (reason: string): Promise<void> => {
        sync.update(desired, reason);
        return sync.idle();
      };
      services.addHandler((c) => resync(`service ${c.name} ${c.type}`));
      slices.addHandler((c) => resync(`endpointslice ${c.name} ${c.type}`));
      await Promise.all([services.synced, slices.synced]);
      sync.start();
      sync.update(desired, 'start');
    },
    async stop(): Promise<void> {
      await syncer?.stop();
    },
  };
}
