// The proxy controller: watches Services and EndpointSlices, reads each service's endpoints
// from its slices as kube-proxy does, and hands the service ports to the sync loop, which
// programs them in the mode the ClusterNetwork (or `--proxy`) asks for. Each service family of
// the cluster has a sync loop and proxier of its own (kube-proxy's metaproxier idea): an
// IPv4-only cluster runs exactly the one it always had.
import { clusterCIDRsOf, serviceCIDRsOf } from '../api/cluster-families.js';
import { nodePodCIDR } from '../api/node-network.js';
import { endpointsFromSlices, serviceKey, slicesByService } from '../api/slice-endpoints.js';
import { netfilterKernel } from '../kernel/netfilter.js';
import {
  LABEL_HEADLESS,
  LABEL_SERVICE_PROXY_NAME,
  type ClusterNetwork,
  type EndpointSlice,
  type Node,
  type ProxyMode,
  type Service,
} from '../api/types.js';
import { tryParseCidr, type Family } from '../net/index.js';
import { clusterServicePorts } from '../proxy/from-services.js';
import { proxyMetrics } from '../proxy/metrics.js';
import type { ProxyNetwork, ServicePortRule } from '../proxy/model.js';
import { createProxier } from '../proxy/proxier.js';
import { ProxySyncer } from '../proxy/syncer.js';
import { getClusterNetwork, getObject } from '../store/objects.js';
import { UsageError, errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

const NAME = 'proxy';
const OTHER_MODE: Record<ProxyMode, ProxyMode> = { iptables: 'nftables', nftables: 'iptables' };

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

/**
 * Service ports of one family from the current objects: each service with the endpoints its
 * slices list.
 */
export function currentServicePorts(
  services: Iterable<Service>,
  slices: Iterable<EndpointSlice>,
  family: Family = 4,
): ServicePortRule[] {
  const byService = slicesByService([...slices].filter(forThisProxy));
  return clusterServicePorts(
    [...services].filter(forThisProxy),
    (svc) => endpointsFromSlices(svc, byService.get(serviceKey(svc)) ?? []),
    family,
  );
}

/**
 * The ranges of each family the cluster has services in, primary first: a family needs its
 * pod and service CIDR; the node's pod subnet of that family, when it has one, limits hairpin.
 */
export function proxyNetworks(cluster: ClusterNetwork['spec'], node?: Node): ProxyNetwork[] {
  const ofFamily = (texts: (string | undefined)[], family: Family): string | undefined =>
    texts.find((t) => t !== undefined && tryParseCidr(t, { loose: true })?.family === family);
  const nodeCIDRs = node ? [nodePodCIDR(node), ...(node.spec?.podCIDRs ?? [])] : [];
  const out: ProxyNetwork[] = [];
  for (const serviceCIDR of serviceCIDRsOf(cluster)) {
    const family = tryParseCidr(serviceCIDR, { loose: true })?.family;
    const clusterCIDR = family && ofFamily(clusterCIDRsOf(cluster), family);
    if (!family || !clusterCIDR) continue;
    const net: ProxyNetwork = { family, clusterCIDR, serviceCIDR };
    const nodeCIDR = ofFamily(nodeCIDRs, family);
    if (nodeCIDR !== undefined) net.nodePodCIDR = nodeCIDR;
    out.push(net);
  }
  return out;
}

export function proxyController(): Controller {
  let syncers: ProxySyncer[] = [];
  return {
    name: NAME,
    async start(ctx: AgentContext): Promise<void> {
      const cluster = await getClusterNetwork(ctx.store);
      const override = ctx.options.overrides.proxy;
      const mode = override
        ? parseProxyMode(override, '--proxy')
        : parseProxyMode(cluster.proxyMode, 'ClusterNetwork spec.proxyMode');
      const node = await getObject(ctx.store, 'Node', undefined, ctx.options.nodeName);
      const log = ctx.log.child({ controller: NAME, mode });
      const metrics = proxyMetrics(ctx.metrics);
      // One health entry for the proxy: an error of either family's loop shows until it clears.
      const errors = new Map<Family, string | undefined>();
      const services = ctx.informers.informer('Service');
      const slices = ctx.informers.informer('EndpointSlice');
      const loops = proxyNetworks(cluster, node).map((net) => {
        const family = net.family ?? 4;
        const kernel = netfilterKernel(undefined, family);
        const sync = new ProxySyncer(createProxier(mode, net, kernel), {
          log: family === 4 ? log : log.child({ family: 'IPv6' }),
          conntrack: kernel.conntrack,
          metrics,
          onSynced: (error) => {
            errors.set(family, error);
            ctx.health.setError(
              NAME,
              [...errors.values()].find((e) => e !== undefined),
            );
            if (!error) ctx.health.setReady(NAME, true);
          },
        });
        const desired = (): ServicePortRule[] =>
          currentServicePorts(services.cache.values(), slices.cache.values(), family);
        // What the other mode left when this host ran it goes once this mode's rules are in,
        // so that services are answered all along and then only by this mode.
        const leftovers = createProxier(OTHER_MODE[mode], net, kernel);
        return { sync, desired, leftovers };
      });
      syncers = loops.map((l) => l.sync);
      // A change is processed once the rules it led to are in the kernel.
      const resync = async (reason: string): Promise<void> => {
        for (const l of loops) l.sync.update(l.desired, reason);
        await Promise.all(loops.map((l) => l.sync.idle()));
      };
      services.addHandler((c) => resync(`service ${c.name} ${c.type}`));
      slices.addHandler((c) => resync(`endpointslice ${c.name} ${c.type}`));
      await Promise.all([services.synced, slices.synced]);
      for (const l of loops) {
        l.sync.start();
        l.sync.update(l.desired, 'start');
        void l.sync
          .idle()
          .then(() => l.leftovers.remove())
          .catch((err: unknown) =>
            log.warn(
              { err: errorMessage(err) },
              `could not take out the ${OTHER_MODE[mode]} proxy rules`,
            ),
          );
      }
    },
    async stop(): Promise<void> {
      await Promise.all(syncers.map((s) => s.stop()));
    },
  };
}
