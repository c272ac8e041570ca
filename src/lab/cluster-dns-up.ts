// `podnet lab up`'s cluster DNS step, in two parts: the kube-system objects as soon as the DNS
// hosts' agents take CNI calls (the pod runners then start the DNS pods like any other pods,
// while the agents finish their first sync), then, once the nodes are ready, the underlay's
// upstream resolver and routes for its replies to pods, and the wait for the pods to serve.
import { dnsIPsOf } from '../api/cluster-families.js';
import { nodePodCIDR } from '../api/node-network.js';
import { existsSync } from 'node:fs';
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
import type { HostPlan, LabPlan } from './plan.js';
import { startProcess } from './supervisor.js';
import { dnsPodsNotServing } from './ready.js';
import { pollUntil } from './wait.js';

/** DNS pods: two (on the first two hosts), or one on a one-host lab. */
const REPLICAS = 2;
/** Starting a DNS pod and its first read of the cluster take seconds on a busy machine. */
const SERVING_TIMEOUT_MS = 60_000;

/** Both parts at once, for a lab whose nodes are ready already. */
export async function startClusterDns(
  plan: LabPlan,
  storeUrl: string,
  log: Logger,
  dnsSource?: string,
): Promise<void> {
  const pods = await applyClusterDns(plan, storeUrl, log, dnsSource);
  await finishClusterDns(plan, storeUrl, log, pods);
}

/**
 * Applies the cluster DNS objects once the DNS hosts' agents listen for CNI calls: a DNS pod
 * applied before would fail its CNI ADD and wait for the pod runner's next resync (5 s).
 * `dnsSource`: the cluster the DNS pods read (their PODNET_STORE), when not the lab's store.
 * `signal`: aborted when `lab up` fails meanwhile, so that it stops waiting for the agents.
 * Returns the DNS pods' names.
 */
export async function applyClusterDns(
  plan: LabPlan,
  storeUrl: string,
  log: Logger,
  dnsSource?: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const hosts = plan.hosts.slice(0, REPLICAS);
  await waitForCniSockets(hosts, signal);
  const store = await openStore(storeUrl);
  try {
    const nodes = hosts.map((h) => h.name);
    const cluster = await getClusterNetwork(store);
    // Through admission like any manifest: the DNS IPs reserved for kube-dns, the name label set.
    const objects = clusterDnsObjects({ nodes, source: dnsSource, dnsIPs: dnsIPsOf(cluster) });
    await applyManifest(store, objects, cluster);
    log.info({ nodes }, 'cluster DNS applied');
    return objects.filter((o) => o.kind === 'Pod').map((o) => o.metadata.name);
  } finally {
    await store.close();
  }
}

/**
 * Once the nodes have published their pod subnets: the upstream resolver and its routes back
 * to the pods, then the wait until every DNS pod in `pods` serves.
 */
export async function finishClusterDns(
  plan: LabPlan,
  storeUrl: string,
  log: Logger,
  pods: string[],
): Promise<void> {
  const store = await openStore(storeUrl);
  try {
    await ipBatch(plan.underlayNetns, resolverRouteBatch(await nodeRoutes(store, plan)));
    await startProcess(plan.stateDir, {
      id: 'dns-upstream',
      argv: resolverArgv(join(plan.stateDir, 'dns-upstream.pid')),
      netns: plan.underlayNetns,
    });
    await waitServing(store, pods);
    log.info({ pods }, 'cluster DNS serving');
  } finally {
    await store.close();
  }
}

/** Until each host's agent has opened its CNI socket (the agents are just starting). */
async function waitForCniSockets(hosts: HostPlan[], signal?: AbortSignal): Promise<void> {
  let waiting = hosts;
  const open = await pollUntil(() => {
    signal?.throwIfAborted();
    waiting = hosts.filter((h) => !existsSync(h.agentSocket));
    return waiting.length === 0 ? true : undefined;
  }, SERVING_TIMEOUT_MS);
  if (!open) {
    throw new OperationError(
      `cluster DNS: the agents of ${waiting.map((h) => h.name).join(', ')} opened no CNI ` +
        `socket in ${SERVING_TIMEOUT_MS / 1000}s: see their logs`,
    );
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
