// `podnet lab up`'s cluster DNS step, one call from up.ts once the nodes are ready: the
// underlay's upstream resolver, routes for its replies to pods, and the kube-system objects;
// the pod runners then start the DNS pods like any other pods.
import { dnsIPsOf } from '../api/cluster-families.js';
import { nodePodCIDR } from '../api/node-network.js';
import { join } from 'node:path';
import { tryParseCidr } from '../net/index.js';
import { ipBatch } from '../kernel/links.js';
import { openStore } from '../store/open.js';
import { applyManifest } from '../registry/apply.js';
import { getClusterNetwork, listObjects } from '../store/objects.js';
import type { Store } from '../store/store.js';
import { OperationError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import {
  DNS_NAMESPACE,
  DNS_SERVICE,
  clusterDnsObjects,
  resolverArgv,
  resolverRouteBatch,
  type NodeRoute,
} from './cluster-dns.js';
import type { LabPlan } from './plan.js';
import { startProcess } from './supervisor.js';
import { dnsPodsNotServing } from './ready.js';
import { pollUntil } from './wait.js';

/** DNS pods: two (on the first two hosts), or one on a one-host lab. */
const REPLICAS = 2;
/** Starting a DNS pod and its first read of the cluster take seconds on a busy machine. */
const SERVING_TIMEOUT_MS = 60_000;

/** `dnsSource`: the cluster the DNS pods read (their PODNET_STORE), when not the lab's store. */
export async function startClusterDns(
  plan: LabPlan,
  storeUrl: string,
  log: Logger,
  dnsSource?: string,
): Promise<void> {
  const store = await openStore(storeUrl);
  try {
    await ipBatch(plan.underlayNetns, resolverRouteBatch(await nodeRoutes(store, plan)));
    await startProcess(plan.stateDir, {
      id: 'dns-upstream',
      argv: resolverArgv(join(plan.stateDir, 'dns-upstream.pid')),
      netns: plan.underlayNetns,
    });
    const nodes = plan.hosts.slice(0, REPLICAS).map((h) => h.name);
    const cluster = await getClusterNetwork(store);
    // Through admission like any manifest: the DNS IPs reserved for kube-dns, the name label set.
    const objects = clusterDnsObjects({ nodes, source: dnsSource, dnsIPs: dnsIPsOf(cluster) });
    await applyManifest(store, objects, cluster);
    log.info({ nodes }, 'cluster DNS applied');
    const pods = objects.filter((o) => o.kind === 'Pod').map((o) => o.metadata.name);
    await waitServing(store, pods);
    log.info({ nodes }, 'cluster DNS serving');
  } finally {
    await store.close();
  }
}

/**
 * A lab is handed over with its names answering: each DNS pod has read the cluster (its
 * readiness probe) and is an endpoint of the DNS Service.
 */
async function waitServing(store: Store, pods: string[]): Promise<void> {
  let waiting: string[] = pods;
  const done = await pollUntil(async () => {
    const { items } = await listObjects(store, 'EndpointSlice', DNS_NAMESPACE);
    waiting = dnsPodsNotServing(items, DNS_SERVICE, pods);
    return waiting.length === 0 ? true : undefined;
  }, SERVING_TIMEOUT_MS);
  if (!done) {
    throw new OperationError(
      `cluster DNS: not serving after ${SERVING_TIMEOUT_MS / 1000}s: ${waiting.join(', ')}`,
    );
  }
}

/**
 * Each host's IPv4 pod subnet (spec.podCIDR or its agent's annotation) and underlay address.
 * The resolver answers over IPv4 only, so an IPv6-only lab's pods get no route back from it
 * (their cluster DNS answers the cluster's names itself).
 */
async function nodeRoutes(store: Store, plan: LabPlan): Promise<NodeRoute[]> {
  const routes = await pollUntil(async () => {
    const { items } = await listObjects(store, 'Node');
    const out: NodeRoute[] = [];
    for (const h of plan.hosts) {
      const node = items.find((n) => n.metadata.name === h.name);
      const podCIDR = node && nodePodCIDR(node);
      if (!podCIDR) return undefined;
      if (tryParseCidr(podCIDR, { loose: true })?.family === 4) out.push({ podCIDR, nodeIP: h.ip });
    }
    return out;
  }, 30_000);
  if (!routes) {
    throw new OperationError('cluster DNS: the nodes did not publish their pod subnets in 30 s');
  }
  return routes;
}
