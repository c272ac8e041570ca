// This node's membership in the cluster: its Node object (InternalIP, hostname and zone
// labels, pod subnet, the Ready condition) and the subnet lease behind that subnet, renewed
// well before it expires. The CNI server asks it for the node's pod network.
//
// On a Kubernetes cluster the Node is kubelet's and spec.podCIDR is node IPAM's: a subnet
// Kubernetes allocated is used as it is (no lease), one podnet leases is recorded in an
// annotation, and the agent's address is an annotation beside kubelet's status.addresses.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dnsIPsOf } from '../api/cluster-families.js';
import { nodePodCIDR } from '../api/node-network.js';
import {
  ANNOTATION_NODE_IP,
  ANNOTATION_POD_CIDR,
  LABEL_HOSTNAME,
  LABEL_ZONE,
  type ClusterNetwork,
  type Node,
  type NodeCondition,
} from '../api/types.js';
import type { NodeNetwork, PodBinder } from '../cni/handler.js';
import { parseCidr, parseIPv4, tryParseCidr, type Cidr, parseInput } from '../net/index.js';
import {
  DEFAULT_LEASE_TTL_SECONDS,
  acquireNodeSubnets,
  renewAfterSeconds,
  releaseNodeSubnets,
  renewSubnetLease,
  type SubnetLease,
} from '../ipam/subnet-lease.js';
import { defaultRouteSource, ipv6Beside } from '../kernel/addresses.js';
import { KUBERNETES_SCHEME } from '../kube/url.js';
import { clusterPodMTU } from '../routing/mtu.js';
import { effectiveNetwork } from '../api/node-settings.js';
import { createObject, getClusterNetwork, getObject, updateObject } from '../store/objects.js';
import { errorMessage, UsageError } from '../util/errors.js';
import type { AgentContext, Controller } from './controller.js';
import type { CniServerSource } from './cni-server.js';
import { storePodBinder } from './pod-binder.js';

/** How often the Ready condition is compared with the controllers' health. */
const READY_POLL_MS = 1000;
/** Wait before retrying a failed renewal. */
const RENEW_RETRY_MS = 10_000;

export class NodeController implements Controller, CniServerSource {
  readonly name = 'node';
  private ctx: AgentContext | undefined;
  private network: NodeNetwork | undefined;
  /**
   * One per family of the cluster (the primary first) while podnet leases the subnets; a
   * subnet Kubernetes allocated has none.
   */
  private leases: SubnetLease[] = [];
  /** The primary family's subnet: the one the pods are wired from. */
  private subnet: string | undefined;
  private binder: PodBinder | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private readyTimer: NodeJS.Timeout | undefined;
  private published: boolean | undefined;
  private stopped = false;

  constructor(private readonly leaseTTLSeconds = DEFAULT_LEASE_TTL_SECONDS) {}

  nodeNetwork(): NodeNetwork | undefined {
    return this.network;
  }

  /** The CNI server binds pod addresses to Pods through this (ready once started). */
  get pods(): PodBinder {
    if (!this.binder) throw new Error('node controller not started');
    return this.binder;
  }

  async start(ctx: AgentContext): Promise<void> {
    this.ctx = ctx;
    const { options, store } = ctx;
    this.binder = storePodBinder(store, options.nodeName);
    const net = await getClusterNetwork(store);
    const nodeIP = options.nodeIP ?? (await defaultRouteSource());
    if (!nodeIP) {
      throw new UsageError('--node-ip: this host has no default route to take it from; give it');
    }
    parseInput(parseIPv4, nodeIP, '--node-ip');
    const existing = await getObject(store, 'Node', undefined, options.nodeName);
    const allocated = onKubernetes(options.storeUrl) ? kubernetesPodCIDR(existing) : undefined;
    if (allocated) {
      this.subnet = allocated;
    } else {
      // Prefer the subnet this node had last, then one its Node object already records (given
      // by an operator, or kept from before the state dir was lost).
      const recorded = existing && nodePodCIDR(existing);
      const primary = this.lastSubnet() ?? (recorded ? tryParseCidr(recorded) : undefined);
      this.leases = await acquireNodeSubnets(
        store,
        { node: options.nodeName, publicIP: nodeIP },
        net,
        {
          ttlSeconds: this.leaseTTLSeconds,
          preferred: [...(primary ? [primary] : []), ...secondarySubnets(existing)],
        },
      );
      this.subnet = this.leases[0]!.subnet;
    }
    this.rememberSubnet(this.subnet);
    await this.register(nodeIP, this.subnet);
    this.network = {
      ...nodeNetwork(
        effectiveNetwork(net, existing),
        this.subnet,
        nodeIP,
        options.overrides.backend,
      ),
      ...this.ipv6Subnet(),
    };
    ctx.log.info(
      { subnet: this.subnet, nodeIP, allocatedBy: allocated ? 'kubernetes' : 'podnet' },
      'node registered',
    );

    if (this.leases.length > 0)
      this.scheduleRenewal(renewAfterSeconds(this.leaseTTLSeconds) * 1000);
    ctx.informers.informer('Node').addHandler((change) => {
      if (change.type !== 'deleted') return undefined;
      if (change.name !== options.nodeName) return this.freeSubnetOf(change.name);
      this.nodeDeleted();
      return undefined;
    });
    const networks = ctx.informers.informer('ClusterNetwork');
    const nodes = ctx.informers.informer('Node');
    networks.addHandler((change) => {
      if (change.object.metadata.name !== 'default') return;
      const spec = change.type === 'deleted' ? undefined : change.object.spec;
      this.networkChanged(effectiveNetwork(spec, nodes.cache.get(options.nodeName)));
    });
    // A rollout step gives this host settings of its own on its Node.
    nodes.addHandler((change) => {
      if (change.name !== options.nodeName || change.type === 'deleted') return;
      this.networkChanged(effectiveNetwork(networks.cache.get('default')?.spec, change.object));
    });
    ctx.health.setReady(this.name, true);
    this.readyTimer = setInterval(() => void this.publishReadiness(), READY_POLL_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearInterval(this.readyTimer);
  }

  /** Creates the Node object or brings an existing one (e.g. from before a restart) up to date. */
  private async register(nodeIP: string, podCIDR: string): Promise<void> {
    const { store, options } = this.ctx!;
    const withIPv6 = this.leases.some((l) => parseCidr(l.subnet).family === 6);
    const nodeIPv6 = withIPv6 ? await ipv6Beside(nodeIP) : undefined;
    const registration: NodeRegistration = {
      name: options.nodeName,
      nodeIP,
      ...(nodeIPv6 ? { nodeIPv6 } : {}),
      podCIDR,
      secondaryPodCIDRs: this.leases.slice(1).map((l) => l.subnet),
      zone: options.zone,
      kubernetes: onKubernetes(options.storeUrl),
    };
    for (;;) {
      const updated = await updateObject(store, 'Node', undefined, options.nodeName, (node) =>
        registeredNode(registration, node),
      );
      if (updated) return;
      if (await createObject(store, registeredNode(registration, undefined))) return;
    }
  }

  /** The IPv6 pod subnet this node leased beside its IPv4 one, for the CNI server. */
  private ipv6Subnet(): { ipv6PodCIDR?: Cidr } {
    if (this.leases[0] && parseCidr(this.leases[0].subnet).family !== 4) return {};
    const cidr = this.leases
      .slice(1)
      .map((l) => parseCidr(l.subnet))
      .find((c) => c.family === 6);
    return cidr ? { ipv6PodCIDR: cidr } : {};
  }

  /** Renews the lease well before expiry; if it was lost (agent suspended), leases again. */
  private scheduleRenewal(delayMs: number): void {
    if (this.stopped) return;
    this.renewTimer = setTimeout(() => void this.renew(), delayMs);
  }

  private async renew(): Promise<void> {
    const { store, log, health } = this.ctx!;
    try {
      for (const lease of this.leases) await renewSubnetLease(store, lease);
      health.setError(this.name, undefined);
      this.scheduleRenewal(renewAfterSeconds(this.leaseTTLSeconds) * 1000);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'subnet lease renewal failed; retrying');
      health.setError(this.name, `subnet lease renewal failed: ${errorMessage(err)}`);
      if (await this.anyLeaseLost()) {
        // A lease expired: take the same subnets again if nobody has them (they are preferred).
        await this.rejoin().catch((e: unknown) =>
          log.error({ err: errorMessage(e) }, 'could not lease a subnet again'),
        );
      }
      this.scheduleRenewal(RENEW_RETRY_MS);
    }
  }

  private async anyLeaseLost(): Promise<boolean> {
    for (const lease of this.leases) if (!(await this.ctx!.store.get(lease.key))) return true;
    return false;
  }

  private async rejoin(): Promise<void> {
    const { store, options } = this.ctx!;
    const net = await getClusterNetwork(store);
    const old = this.leases[0]!;
    this.leases = await acquireNodeSubnets(
      store,
      { node: options.nodeName, publicIP: old.publicIP },
      net,
      {
        ttlSeconds: this.leaseTTLSeconds,
        preferred: this.leases.flatMap((l) => tryParseCidr(l.subnet) ?? []),
      },
    );
    const lease = this.leases[0]!;
    if (lease.subnet !== old.subnet) {
      this.ctx!.log.error(
        { old: old.subnet, new: lease.subnet },
        'the old subnet went to another node; pods started before keep their old addresses',
      );
    }
    this.subnet = lease.subnet;
    this.rememberSubnet(lease.subnet);
    await this.register(lease.publicIP, lease.subnet);
    this.network = { ...this.network!, podCIDR: parseCidr(lease.subnet), ...this.ipv6Subnet() };
  }

  /**
   * A changed ClusterNetwork reaches pods added from now on (MTU, DNS); the CNI server brings
   * the running pods' MTU along. The subnet a node holds is not moved under running pods.
   */
  private networkChanged(spec: ClusterNetwork['spec']): void {
    if (!this.network || !this.subnet) return;
    const { options, log } = this.ctx!;
    const next = nodeNetwork(spec, this.subnet, this.network.nodeIP, options.overrides.backend);
    const { mtu, dnsIPs, domain } = this.network;
    const sameDns = next.dnsIPs.join() === dnsIPs.join();
    if (next.mtu === mtu && sameDns && next.domain === domain) return;
    this.network = { ...next, ...this.ipv6Subnet() };
    log.info(
      { mtu: next.mtu, dnsIPs: next.dnsIPs, domain: next.domain },
      'pod network settings changed',
    );
  }

  /**
   * Mirrors the agent's readiness (every controller ready) into the Node's Ready condition,
   * also putting it back when a peer marked this node Unknown while this agent was silent.
   */
  private async publishReadiness(): Promise<void> {
    const { store, health, options, log, informers } = this.ctx!;
    const ready = health.isReady() && this.network !== undefined;
    const stored = informers
      .informer('Node')
      .cache.get(options.nodeName)
      ?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    if (ready === this.published && stored === (ready ? 'True' : 'False')) return;
    try {
      await updateObject(store, 'Node', undefined, options.nodeName, (node) => {
        const others = (node.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
        node.status = { ...node.status, conditions: [...others, readyCondition(ready)] };
        return node;
      });
      this.published = ready;
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'could not publish the Ready condition');
    }
  }

  /**
   * `podnet delete node` removed this node: free its subnet (the verb does too, for a node
   * whose agent is down) and serve no more pods until the agent is started again.
   */
  private nodeDeleted(): void {
    const { store, log, options, health } = this.ctx!;
    log.warn('this node was deleted from the cluster; restart the agent to join again');
    this.network = undefined;
    clearTimeout(this.renewTimer);
    health.setReady(this.name, false);
    releaseNodeSubnets(store, options.nodeName).catch((err: unknown) =>
      log.warn({ err: errorMessage(err) }, 'could not free the subnet lease'),
    );
  }

  /**
   * Another node was deleted (`podnet delete node`): any live agent frees its subnet, so it
   * does not wait for the lease to expire when that node's agent is gone. Deleting a lease key
   * is idempotent; a node that re-registered meanwhile keeps its new lease.
   */
  private async freeSubnetOf(node: string): Promise<void> {
    const { store, log } = this.ctx!;
    try {
      if (await getObject(store, 'Node', undefined, node)) return;
      const freed = await releaseNodeSubnets(store, node);
      if (freed.length > 0) log.info({ peer: node, freed }, 'freed the subnet of a deleted node');
    } catch (err) {
      log.warn(
        { peer: node, err: errorMessage(err) },
        'could not free the subnet of a deleted node',
      );
    }
  }

  /** flannel keeps its subnet in subnet.env; podnet keeps it in the state dir likewise. */
  private lastSubnet(): Cidr | undefined {
    try {
      const { subnet } = JSON.parse(readFileSync(this.subnetFile(), 'utf8')) as { subnet: string };
      return tryParseCidr(subnet);
    } catch {
      return undefined;
    }
  }

  private rememberSubnet(subnet: string): void {
    writeFileSync(this.subnetFile(), JSON.stringify({ subnet }));
  }

  private subnetFile(): string {
    return join(this.ctx!.options.stateDir, 'subnet.json');
  }
}

/** The subnets a Node records beyond its primary one: preferred when leasing again. */
function secondarySubnets(node: Node | undefined): Cidr[] {
  return (node?.spec.podCIDRs ?? []).slice(1).flatMap((text) => tryParseCidr(text) ?? []);
}

function onKubernetes(storeUrl: string): boolean {
  return storeUrl.startsWith(KUBERNETES_SCHEME);
}

/** The subnet Kubernetes' node IPAM gave the node, if it did (podnet's own is an annotation). */
export function kubernetesPodCIDR(node: Node | undefined): string | undefined {
  return node?.spec?.podCIDR ?? node?.spec?.podCIDRs?.[0];
}

export interface NodeRegistration {
  name: string;
  nodeIP: string;
  /** The node's IPv6 address on the underlay, on a dual-stack host: a second InternalIP. */
  nodeIPv6?: string;
  podCIDR: string;
  /** The node's subnets of the cluster's other families (spec.podCIDRs after podCIDR). */
  secondaryPodCIDRs?: string[];
  zone?: string;
  /** The cluster is Kubernetes: spec.podCIDR and status.addresses are not the agent's. */
  kubernetes: boolean;
}

/**
 * The Node as this agent registers it: created from nothing, or an existing one brought up to
 * date. On Kubernetes a subnet podnet leased goes into an annotation (spec.podCIDR is set-once
 * and node IPAM's), and addresses are written only on a Node nobody else registered.
 */
export function registeredNode(reg: NodeRegistration, existing: Node | undefined): Node {
  const labels: Record<string, string> = { [LABEL_HOSTNAME]: reg.name };
  if (reg.zone) labels[LABEL_ZONE] = reg.zone;
  const addresses: NonNullable<Node['status']>['addresses'] = [
    { type: 'InternalIP', address: reg.nodeIP },
    ...(reg.nodeIPv6 ? [{ type: 'InternalIP' as const, address: reg.nodeIPv6 }] : []),
    { type: 'Hostname', address: reg.name },
  ];
  const annotations: Record<string, string> = { [ANNOTATION_NODE_IP]: reg.nodeIP };
  const allocated = kubernetesPodCIDR(existing);
  const subnetInSpec = !reg.kubernetes || allocated !== undefined;
  if (!subnetInSpec) annotations[ANNOTATION_POD_CIDR] = reg.podCIDR;
  const podCIDRs = [reg.podCIDR, ...(reg.secondaryPodCIDRs ?? [])];
  const spec = subnetInSpec ? { podCIDR: reg.podCIDR, podCIDRs } : {};
  if (!existing) {
    return {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: reg.name, labels, annotations },
      spec,
      status: { addresses, conditions: [readyCondition(false)] },
    };
  }
  const node = structuredClone(existing);
  node.metadata.labels = { ...node.metadata.labels, ...labels };
  node.metadata.annotations = { ...node.metadata.annotations, ...annotations };
  if (reg.kubernetes) return node;
  node.spec = { ...node.spec, ...spec };
  node.status = { ...node.status, addresses };
  return node;
}

function readyCondition(ready: boolean): NodeCondition {
  return {
    type: 'Ready',
    status: ready ? 'True' : 'False',
    reason: ready ? 'AgentReady' : 'AgentNotReady',
    message: ready ? 'every podnet agent controller is ready' : 'some controllers are not ready',
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/** What CNI needs to know about this node's pods: subnet, MTU, DNS. */
export function nodeNetwork(
  net: ClusterNetwork['spec'],
  podCIDR: string,
  nodeIP: string,
  backendOverride?: string,
): NodeNetwork {
  const backend = (backendOverride ?? net.backend) as ClusterNetwork['spec']['backend'];
  return {
    podCIDR: parseCidr(podCIDR),
    nodeIP,
    mtu: clusterPodMTU(net, backend),
    dnsIPs: dnsIPsOf(net),
    domain: net.domain,
  };
}
