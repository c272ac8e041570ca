// The proxy controller: watches Services and Pods, derives each service's endpoints (the one
// derivation in src/api/endpoints.ts), and hands the service ports to the sync loop, which
// programs them in the mode the ClusterNetwork (or `--proxy`) asks for.
import { serviceEndpoints } from '../api/endpoints.js';
import { netfilterKernel } from '../kernel/netfilter.js';
import type { Pod, ProxyMode, Service } from '../api/types.js';
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

/** Service ports from the current objects: pods grouped by namespace, endpoints per service. */
export function currentServicePorts(
  services: Iterable<Service>,
  pods: Iterable<Pod>,
): ServicePortRule[] {
  const byNamespace = new Map<string, Pod[]>();
  for (const pod of pods) {
    const ns = pod.metadata.namespace ?? 'default';
    byNamespace.set(ns, [...(byNamespace.get(ns) ?? []), pod]);
  }
  return clusterServicePorts([...services], (svc) =>
    serviceEndpoints(svc, byNamespace.get(svc.metadata.namespace ?? 'default') ?? []),
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
        nodePodCIDR: node?.spec.podCIDR,
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
      const pods = ctx.informers.informer('Pod');
      const desired = (): ServicePortRule[] =>
        currentServicePorts(services.cache.values(), pods.cache.values());
      // A change is processed once the rules it led to are in the kernel.
      const resync = (reason: string): Promise<void> => {
        sync.update(desired, reason);
        return sync.idle();
      };
      services.addHandler((c) => resync(`service ${c.name} ${c.type}`));
      pods.addHandler((c) => resync(`pod ${c.name} ${c.type}`));
      await Promise.all([services.synced, pods.synced]);
      sync.start();
      sync.update(desired, 'start');
    },
    async stop(): Promise<void> {
      await syncer?.stop();
    },
  };
}
