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
import { createProxier, type Proxier } from '../proxy/proxier.js';
import type { Logger } from '../util/log.js';
import { ProxySyncer } from '../proxy/syncer.js';
import { getClusterNetwork, getObject } from '../store/objects.js';
import { effectiveNetwork } from '../api/node-settings.js';
import { UsageError, errorMessage } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';

const NAME = 'proxy';
export const OTHER_MODE: Record<ProxyMode, ProxyMode> = {
  iptables: 'nftables',
  nftables: 'iptables',
};

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
      const node = await getObject(ctx.store, 'Node', undefined, ctx.options.nodeName);
      // A host's own settings from a staged rollout win over the cluster-wide ones.
      const modeOf = (spec: ClusterNetwork['spec'] | undefined, self: Node | undefined) =>
        override
          ? parseProxyMode(override, '--proxy')
          : parseProxyMode(effectiveNetwork(spec, self).proxyMode, 'ClusterNetwork spec.proxyMode');
      let mode = modeOf(cluster, node);
      const metrics = proxyMetrics(ctx.metrics);
      // One health entry for the proxy: an error of either family's loop shows until it clears.
      const errors = new Map<Family, string | undefined>();
      const services = ctx.informers.informer('Service');
      const slices = ctx.informers.informer('EndpointSlice');
      const nets = proxyNetworks(cluster, node);
      const loopsIn = (loopMode: ProxyMode): ProxyLoop[] => {
        const log = ctx.log.child({ controller: NAME, mode: loopMode });
        return nets.map((net) => {
          const family = net.family ?? 4;
          const kernel = netfilterKernel(undefined, family);
          const sync = new ProxySyncer(createProxier(loopMode, net, kernel), {
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
          const leftovers = createProxier(OTHER_MODE[loopMode], net, kernel);
          return { sync, desired, leftovers, log };
        });
      };
      let loops = loopsIn(mode);
      syncers = loops.map((l) => l.sync);
      /** Starts the loops and resolves once their first sync is in the kernel. */
      const bringUp = async (running: ProxyLoop[], reason: string): Promise<void> => {
        for (const l of running) {
          l.sync.start();
          l.sync.update(l.desired, reason);
        }
        await Promise.all(running.map((l) => l.sync.idle()));
      };
      /** What the other mode left (when this host ran it) goes once this mode's rules are in. */
      const removeLeftovers = async (running: ProxyLoop[]): Promise<void> => {
        await Promise.all(
          running.map((l) =>
            l.leftovers
              .remove()
              .catch((err: unknown) =>
                l.log.warn(
                  { err: errorMessage(err) },
                  `could not take out the ${l.leftovers.mode} proxy rules`,
                ),
              ),
          ),
        );
      };
      // A change is processed once the rules it led to are in the kernel.
      const resync = async (reason: string): Promise<void> => {
        const current = loops;
        for (const l of current) l.sync.update(l.desired, reason);
        await Promise.all(current.map((l) => l.sync.idle()));
      };
      /** Mode changes one at a time, each finished before the next starts. */
      let switching = Promise.resolve();
      const follow = (wanted: ProxyMode): Promise<void> => {
        switching = switching.then(async () => {
          if (wanted === mode) return;
          const before = loops;
          const after = loopsIn(wanted);
          after[0]?.log.info({ from: mode }, 'changing the proxy mode');
          // Service changes go to the new loops from here on; the old ones stop as they are.
          loops = after;
          syncers = after.map((l) => l.sync);
          mode = wanted;
          // Make before break: the new mode's rules in, the old mode's loops stopped, then its
          // rules out. Established connections keep their conntrack entry, whose translation
          // needs neither mode's rules.
          await bringUp(after, `proxy mode ${wanted}`);
          await Promise.all(before.map((l) => l.sync.stop()));
          await removeLeftovers(after);
        });
        return switching;
      };
      services.addHandler((c) => resync(`service ${c.name} ${c.type}`));
      slices.addHandler((c) => resync(`endpointslice ${c.name} ${c.type}`));
      await Promise.all([services.synced, slices.synced]);
      // Not awaited: the agent starts while the first sync runs. A mode change waits for it.
      const first = loops;
      switching = bringUp(first, 'start').then(() => removeLeftovers(first));
      // The mode this host runs follows its own settings (a rollout step) and the cluster's.
      const nodes = ctx.informers.informer('Node');
      const networks = ctx.informers.informer('ClusterNetwork');
      nodes.addHandler((c) =>
        c.name === ctx.options.nodeName && c.type !== 'deleted'
          ? follow(modeOf(networks.cache.get('default')?.spec, c.object))
          : undefined,
      );
      networks.addHandler((c) =>
        c.name === 'default' && c.type !== 'deleted'
          ? follow(modeOf(c.object.spec, nodes.cache.get(ctx.options.nodeName)))
          : undefined,
      );
    },
    async stop(): Promise<void> {
      await Promise.all(syncers.map((s) => s.stop()));
    },
  };
}

/** One family's sync loop in one mode, and the other mode's proxier to take out what it left. */
interface ProxyLoop {
  sync: ProxySyncer;
  desired: () => ServicePortRule[];
  leftovers: Proxier;
  log: Logger;
}
