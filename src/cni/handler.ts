// One CNI call, as the agent serves it for the C shim. Each operation reads as its story:
// check the call, allocate, wire, bind, answer -- and undo in reverse on any failure, so a
// failed ADD leaves neither an address nor a link behind.
import { existsSync } from 'node:fs';
import type { Logger } from '../util/log.js';
import { StoreUnavailableError, errorMessage } from '../util/errors.js';
import { formatCidr, formatIP, hostCount, hostRange, type Cidr, type IP } from '../net/index.js';
import { PoolExhaustedError, type PodAllocation, type PodIPAllocator } from '../ipam/pod-ips.js';
import {
  InterfaceExistsError,
  LINK_LOCAL_GATEWAY,
  deleteLinks,
  existingLinks,
  hostMacFor,
  hostVethName,
  isNamespaceFile,
  podMacFor,
  readPodVeth,
  type PodVeth,
} from '../kernel/pod-veth.js';
import type { IpSession } from '../kernel/ip-session.js';
import { wirePodVeth, type PodLinkSession } from '../kernel/pod-link-session.js';
import { netnsIdentity, netnsWithProcesses } from '../kernel/netns.js';
import { prevResultAddresses, wiringProblems } from './check.js';
import { LATEST_VERSION, SUPPORTED_VERSIONS, parseNetConf, type NetConf } from './config.js';
import { parseCniEnv, type CniEnv } from './env.js';
import { CNI_ERR, CniError, errorJson } from './errors.js';
import { buildResult, type CniResult } from './result.js';

/** What the node agent knows about this node's pod network (from its subnet lease). */
export interface NodeNetwork {
  podCIDR: Cidr;
  /** The node's IPv6 pod subnet, on a dual-stack cluster: each pod gets an address of both. */
  ipv6PodCIDR?: Cidr;
  nodeIP: string;
  mtu: number;
  /** The cluster DNS addresses, primary family first: every one is a pod's nameserver. */
  dnsIPs: string[];
  domain: string;
}

/** The Kubernetes pod a container belongs to, from CNI_ARGS. */
export interface PodRef {
  namespace: string;
  name: string;
}

/** Binds pod addresses to Pod objects in the cluster store (status.podIP, status.hostIP). */
export interface PodBinder {
  /** `otherPodIPs`: the pod's addresses of the other family (status.podIPs after podIP). */
  bind(
    pod: PodRef,
    podIP: string,
    hostIP: string,
    containerID: string,
    otherPodIPs?: string[],
  ): Promise<void>;
  unbind(pod: PodRef, podIP: string, containerID: string): Promise<void>;
}

/** The datapath's side of a new pod: what concerns it (its policies) is enforced before ADD answers. */
export interface NewPodPolicies {
  /** Called once the pod's address is recorded; resolves once enforced. A failure fails the ADD. */
  isolateNewPod(pod: PodRef, ip: string): Promise<void>;
  /** The ADD failed after all: `ip` is not the pod's, and no policy may treat it as such. */
  forgetNewPod(pod: PodRef, ip: string): void;
}

export interface CniContext {
  ipam: PodIPAllocator;
  /** The pods' IPv6 addresses, by the same (containerID, ifname) as their IPv4 ones. */
  ipamIPv6?: PodIPAllocator;
  /** The agent's ip session in the host namespace. */
  host: IpSession;
  /** The agent's podnet-pod-link: makes the pods' veths and configures both ends. */
  podLinks: PodLinkSession;
  /** Undefined until the node holds a subnet lease. */
  node(): NodeNetwork | undefined;
  pods: PodBinder;
  /** Enforces the pods' policies: a new pod's from its first packet. */
  policies?: NewPodPolicies;
  /** Brings the node guard up to date with the allocations (it never fails: it reports). */
  guardSync?: () => Promise<void>;
  /** Hears when each stage of a successful ADD ended, in seconds from the ADD's start. */
  observeAddStage?: (stage: AddStage, seconds: number) => void;
  log: Logger;
}

/** The stages of an ADD: after the allocation, all run side by side (the policies once recorded). */
export const ADD_STAGES = ['allocate', 'wire', 'record', 'guard', 'policy'] as const;
export type AddStage = (typeof ADD_STAGES)[number];

export interface CniAnswer {
  exitCode: number;
  stdout: string;
}

export async function handleCniCall(
  env: Record<string, string>,
  stdin: string,
  ctx: CniContext,
): Promise<CniAnswer> {
  let version: string = LATEST_VERSION;
  try {
    const call = parseCniEnv(env);
    if (call.command === 'VERSION') {
      return answer({ cniVersion: LATEST_VERSION, supportedVersions: SUPPORTED_VERSIONS });
    }
    const conf = parseNetConf(stdin, call.command);
    version = conf.cniVersion;
    switch (call.command) {
      case 'ADD':
        return answer(await add(call, conf, ctx));
      case 'DEL':
        await del(call, ctx);
        return answer();
      case 'CHECK':
        await check(call, conf, ctx);
        return answer();
      case 'GC':
        await gc(conf, ctx);
        return answer();
      case 'STATUS':
        status(ctx);
        return answer();
    }
  } catch (err) {
    const cniErr =
      err instanceof CniError ? err : new CniError(CNI_ERR.internal, errorMessage(err));
    ctx.log.warn({ env, code: cniErr.code, err: cniErr.message }, 'CNI call failed');
    return { exitCode: 1, stdout: `${JSON.stringify(errorJson(version, cniErr))}\n` };
  }
}

function answer(body?: object): CniAnswer {
  return { exitCode: 0, stdout: body ? `${JSON.stringify(body)}\n` : '' };
}

async function add(call: CniEnv, conf: NetConf, ctx: CniContext): Promise<CniResult> {
  const node = requireNodeNetwork(ctx);
  if (!isNamespaceFile(call.netns)) {
    throw new CniError(CNI_ERR.invalidEnv, `CNI_NETNS "${call.netns}" is not a network namespace`);
  }
  const pod = podRef(call);
  const gateway = gatewayOf(node.podCIDR);
  const timed = stageTimer(ctx);
  const { allocation, fresh } = timed.sync('allocate', () =>
    allocate(ctx, node, gateway, call, pod),
  );
  let ipv6: PodAllocation | undefined;
  try {
    ipv6 = allocateIPv6(ctx, node, allocation);
  } catch (err) {
    if (fresh) ctx.ipam.release(call.containerID, call.ifname);
    throw err;
  }
  const veth = vethFor(allocation, call.netns, gateway, node.mtu, ipv6?.ip);
  const undoAllocation = (): void => {
    if (fresh) ctx.ipam.release(call.containerID, call.ifname);
    if (fresh) ctx.ipamIPv6?.release(call.containerID, call.ifname);
  };

  // The guard, the Pod's record and the wiring need only the allocation, the pod's policies
  // only its record: all run side by side, and ADD answers once all are done. The wiring is
  // asked for first: it is the longest, and the record's store write holds this thread a
  // moment before the others' requests go out.
  const wired = timed('wire', wirePodVeth(ctx.host, ctx.podLinks, veth));
  const guarded = ctx.guardSync && timed('guard', ctx.guardSync());
  const recorded = pod
    ? timed(
        'record',
        ctx.pods.bind(pod, allocation.ip, node.nodeIP, call.containerID, ipv6 ? [ipv6.ip] : []),
      )
    : Promise.resolve();
  const newPod = pod && ctx.policies ? { pod, policies: ctx.policies } : undefined;
  const enforced = recorded.then(
    () => newPod && timed('policy', newPod.policies.isolateNewPod(newPod.pod, allocation.ip)),
  );
  const forgetPolicies = (): void => newPod?.policies.forgetNewPod(newPod.pod, allocation.ip);
  try {
    const [wiring, bound, isolated] = await Promise.allSettled([wired, recorded, enforced]);
    if (wiring.status === 'rejected') {
      const err: unknown = wiring.reason;
      undoAllocation();
      forgetPolicies();
      // A record this ADD wrote goes again (one of an earlier ADD stays with its pod); the
      // wiring error is the one to report.
      if (pod && fresh && bound.status === 'fulfilled') {
        await ctx.pods.unbind(pod, allocation.ip, call.containerID).catch(() => undefined);
      }
      if (err instanceof InterfaceExistsError) {
        throw new CniError(CNI_ERR.interfaceExists, err.message);
      }
      throw new CniError(CNI_ERR.internal, `could not wire ${call.ifname}: ${errorMessage(err)}`);
    }
    if (pod && bound.status === 'rejected') {
      const err: unknown = bound.reason;
      await deleteLinks(ctx.host, [veth.hostVeth]);
      undoAllocation();
      // A store that is away is worth a retry by the runtime; anything else is not.
      const code = err instanceof StoreUnavailableError ? CNI_ERR.tryAgainLater : CNI_ERR.internal;
      throw new CniError(
        code,
        `could not record ${allocation.ip} on pod ${pod.namespace}/${pod.name}: ${errorMessage(err)}`,
      );
    }
    if (pod && isolated.status === 'rejected') {
      await deleteLinks(ctx.host, [veth.hostVeth]);
      undoAllocation();
      forgetPolicies();
      // The policy error is the one to report; an address left on the Pod is replaced by its next ADD.
      await ctx.pods.unbind(pod, allocation.ip, call.containerID).catch(() => undefined);
      throw new CniError(
        CNI_ERR.tryAgainLater,
        `could not enforce the policies of pod ${pod.namespace}/${pod.name}: ${errorMessage(isolated.reason)}`,
      );
    }
  } catch (err) {
    // The allocation was taken back: the guard forgets the address again before ADD fails.
    await guarded;
    await ctx.guardSync?.();
    throw err;
  }
  await guarded;
  const stageMs = timed.report();
  ctx.log.info(
    { pod, ip: allocation.ip, ipv6: ipv6?.ip, containerID: call.containerID, stageMs },
    'pod added',
  );

  return buildResult(conf.cniVersion, {
    hostVeth: { name: veth.hostVeth, mac: veth.hostMac },
    pod: { ifname: call.ifname, mac: veth.podMac, netns: call.netns },
    ...(veth.podIP && veth.gateway
      ? { address: `${veth.podIP}/32`, gateway: veth.gateway }
      : { address: `${allocation.ip}/128`, gateway: LINK_LOCAL_GATEWAY }),
    ...(ipv6 ? { ipv6: { address: `${ipv6.ip}/128`, gateway: LINK_LOCAL_GATEWAY } } : {}),
    mtu: node.mtu,
    dns: {
      nameservers: node.dnsIPs,
      domain: node.domain,
      podNamespace: pod?.namespace ?? 'default',
    },
  });
}

interface StageTimer {
  <T>(stage: AddStage, work: Promise<T>): Promise<T>;
  sync<T>(stage: AddStage, work: () => T): T;
  /**
   * Hands the stages over (only a successful ADD's, so that failures do not blur them) and
   * returns when each ended, in ms, with the whole ADD's time as `total`: the log names a slow
   * ADD's slow stage.
   */
  report(): Record<string, number>;
}

/** Times each stage from the start of the ADD, so stages that overlap show as they end. */
function stageTimer(ctx: CniContext): StageTimer {
  const started = process.hrtime.bigint();
  const ended = new Map<AddStage, number>();
  const end = (stage: AddStage): void => {
    ended.set(stage, Number(process.hrtime.bigint() - started) / 1e9);
  };
  const timed = <T>(stage: AddStage, work: Promise<T>): Promise<T> =>
    work.then((value) => {
      end(stage);
      return value;
    });
  return Object.assign(timed, {
    sync<T>(stage: AddStage, work: () => T): T {
      const value = work();
      end(stage);
      return value;
    },
    report(): Record<string, number> {
      const ms = (seconds: number): number => Math.round(seconds * 1e5) / 100;
      const out: Record<string, number> = {};
      for (const [stage, seconds] of ended) {
        ctx.observeAddStage?.(stage, seconds);
        out[stage] = ms(seconds);
      }
      out.total = ms(Number(process.hrtime.bigint() - started) / 1e9);
      return out;
    },
  });
}

/**
 * DEL is idempotent on purpose: runtimes call it again after a timeout, after their own
 * restart, and for containers whose ADD never finished -- with or without a netns. Only a
 * container podnet has an allocation for has anything to undo.
 */
async function del(call: CniEnv, ctx: CniContext): Promise<void> {
  const allocation = ctx.ipam.get(call.containerID, call.ifname);
  if (!allocation) return;
  // The link goes first, unlike ptp: while its host route exists the address must not be
  // handed to another pod. Deleting the host end takes the pod end and both routes with it,
  // and needs no netns (it may be gone already).
  await deleteLinks(ctx.host, [allocation.hostVeth]);
  ctx.ipam.release(call.containerID, call.ifname);
  ctx.ipamIPv6?.release(call.containerID, call.ifname);
  await unbind(ctx, allocation);
  ctx.log.info({ ip: allocation.ip, containerID: call.containerID }, 'pod deleted');
}

async function check(call: CniEnv, conf: NetConf, ctx: CniContext): Promise<void> {
  const node = requireNodeNetwork(ctx);
  const allocation = ctx.ipam.get(call.containerID, call.ifname);
  if (!allocation) {
    throw new CniError(
      CNI_ERR.unknownContainer,
      `podnet has no address for container ${call.containerID} interface ${call.ifname}`,
    );
  }
  const ipv6 = ctx.ipamIPv6?.get(call.containerID, call.ifname);
  const ours = [`${allocation.ip}/32`, ...(ipv6 ? [`${ipv6.ip}/128`] : [])];
  const foreign = prevResultAddresses(conf.prevResult).filter((a) => !ours.includes(a));
  if (foreign.length > 0) {
    throw new CniError(
      CNI_ERR.internal,
      `prevResult says ${foreign.join(', ')} but podnet gave ${call.containerID} ${ours.join(', ')}`,
    );
  }
  let state;
  try {
    state = await readPodVeth(call.netns, call.ifname, allocation.ip, ipv6?.ip);
  } catch (err) {
    throw new CniError(
      CNI_ERR.internal,
      `could not read ${call.ifname} in ${call.netns}: ${errorMessage(err)}`,
    );
  }
  const problems = wiringProblems(
    {
      podIP: allocation.ip,
      gateway: formatIP(gatewayOf(node.podCIDR)),
      ifname: call.ifname,
      hostVeth: allocation.hostVeth,
      ...(ipv6 ? { ipv6: { podIP: ipv6.ip, gateway: LINK_LOCAL_GATEWAY } } : {}),
    },
    state,
  );
  if (problems.length > 0) throw new CniError(CNI_ERR.internal, problems.join('; '));
}

/** Frees every attachment the runtime no longer knows, with its link and Pod binding. */
async function gc(conf: NetConf, ctx: CniContext): Promise<void> {
  const stale = ctx.ipam.releaseAllExcept(conf.validAttachments ?? []);
  ctx.ipamIPv6?.releaseAllExcept(conf.validAttachments ?? []);
  await deleteLinks(ctx.host, stale.map((a) => a.hostVeth).filter(Boolean));
  for (const allocation of stale) await unbind(ctx, allocation);
  if (stale.length > 0) ctx.log.info({ freed: stale.map((a) => a.ip) }, 'GC freed addresses');
}

/**
 * Frees the addresses of pods that went away without a DEL (a runtime that crashed or lost its
 * state; libcni before 1.1 never sends GC). A pod is gone when its netns path is gone and
 * nothing can reach its namespace any more: no process lives in it (its identity, recorded at
 * ADD, tells) -- or, for a pod recorded without one, its host veth is gone too, which happens
 * only once the kernel has freed the namespace, and that can take minutes on a busy host.
 */
export async function reclaimOrphans(ctx: CniContext): Promise<PodAllocation[]> {
  const gone = ctx.ipam.list().filter((a) => a.netns && !existsSync(a.netns));
  if (gone.length === 0) return [];
  const inhabited = netnsWithProcesses(gone.flatMap((a) => a.netnsIdentity ?? []));
  const unreachable = gone.filter((a) => a.netnsIdentity && !inhabited.has(a.netnsIdentity));
  const present = await existingLinks(
    ctx.host,
    gone.map((a) => a.hostVeth),
  );
  const orphans = gone.filter((a) => unreachable.includes(a) || !present.has(a.hostVeth));
  // The host end goes before the address is free, as in DEL: its route must not outlive it.
  await deleteLinks(
    ctx.host,
    unreachable.filter((a) => present.has(a.hostVeth)).map((a) => a.hostVeth),
  );
  for (const a of orphans) {
    ctx.ipam.release(a.containerID, a.ifname);
    ctx.ipamIPv6?.release(a.containerID, a.ifname);
    await unbind(ctx, a);
    ctx.log.info(
      {
        pod: a.podName ? `${a.podNamespace ?? 'default'}/${a.podName}` : undefined,
        ip: a.ip,
        containerID: a.containerID,
        netns: a.netns,
      },
      'address of a pod gone without a DEL reclaimed',
    );
  }
  return orphans;
}

/** STATUS: can an ADD be served right now? */
function status(ctx: CniContext): void {
  const node = ctx.node();
  if (!node) {
    throw new CniError(CNI_ERR.notAvailable, 'this node has no pod subnet yet');
  }
  // The gateway takes one address of the range.
  if (BigInt(ctx.ipam.usedIn(node.podCIDR)) >= hostCount(node.podCIDR) - 1n) {
    throw new CniError(CNI_ERR.notAvailable, `no free pod address in ${formatCidr(node.podCIDR)}`);
  }
}

function requireNodeNetwork(ctx: CniContext): NodeNetwork {
  const node = ctx.node();
  if (!node) {
    throw new CniError(
      CNI_ERR.tryAgainLater,
      'this node has no pod subnet yet (the agent is still joining the cluster)',
    );
  }
  return node;
}

/** K8S_POD_NAMESPACE / K8S_POD_NAME from CNI_ARGS; podman passes only the name. */
function podRef(call: CniEnv): PodRef | undefined {
  const name = call.args.K8S_POD_NAME;
  if (!name) return undefined;
  return { namespace: call.args.K8S_POD_NAMESPACE || 'default', name };
}

/** The gateway is the subnet's first address, carried by every host-side veth (like ptp). */
function gatewayOf(podCIDR: Cidr): IP {
  return hostRange(podCIDR).first;
}

function allocate(
  ctx: CniContext,
  node: NodeNetwork,
  gateway: IP,
  call: CniEnv,
  pod: PodRef | undefined,
): { allocation: PodAllocation; fresh: boolean } {
  // The host veth's name comes from the pod, so it is stable across sandbox restarts.
  const podKey = pod
    ? `${pod.namespace}/${pod.name}/${call.ifname}`
    : `${call.containerID}/${call.ifname}`;
  try {
    return ctx.ipam.allocate(node.podCIDR, [gateway], {
      containerID: call.containerID,
      ifname: call.ifname,
      hostVeth: hostVethName(podKey),
      netns: call.netns,
      ...netnsIdentityOf(call.netns),
      ...(pod ? { podNamespace: pod.namespace, podName: pod.name } : {}),
    });
  } catch (err) {
    if (err instanceof PoolExhaustedError) throw new CniError(CNI_ERR.noAddresses, err.message);
    throw err;
  }
}

/**
 * The pod's IPv6 address on a dual-stack node, under the same owner as its IPv4 one. The
 * subnet's first address stays free, as in IPv4: the gateway is link-local, but that address
 * is the node's (its tunnel's) in the pod subnet.
 */
function allocateIPv6(
  ctx: CniContext,
  node: NodeNetwork,
  owner: PodAllocation,
): PodAllocation | undefined {
  if (!node.ipv6PodCIDR || !ctx.ipamIPv6) return undefined;
  try {
    // The owner's record stands for the request: allocate puts the new address in place of its own.
    return ctx.ipamIPv6.allocate(node.ipv6PodCIDR, [gatewayOf(node.ipv6PodCIDR)], owner).allocation;
  } catch (err) {
    if (err instanceof PoolExhaustedError) throw new CniError(CNI_ERR.noAddresses, err.message);
    throw err;
  }
}

function netnsIdentityOf(netns: string): { netnsIdentity?: string } {
  const identity = netnsIdentity(netns);
  return identity ? { netnsIdentity: identity } : {};
}

function vethFor(
  allocation: PodAllocation,
  netns: string,
  gateway: IP,
  mtu: number,
  podIPv6?: string,
): PodVeth {
  // On an IPv6-only cluster the node's one pod subnet is IPv6: the pod has that address alone.
  const onlyIPv6 = gateway.family === 6;
  return {
    ...(onlyIPv6
      ? { podIPv6: allocation.ip }
      : { podIP: allocation.ip, gateway: formatIP(gateway) }),
    ...(podIPv6 ? { podIPv6 } : {}),
    hostVeth: allocation.hostVeth,
    hostMac: hostMacFor(allocation.hostVeth),
    netns,
    ifname: allocation.ifname,
    podMac: podMacFor(allocation.ip),
    mtu,
  };
}

async function unbind(ctx: CniContext, allocation: PodAllocation): Promise<void> {
  if (!allocation.podName) return;
  const pod = { namespace: allocation.podNamespace ?? 'default', name: allocation.podName };
  try {
    await ctx.pods.unbind(pod, allocation.ip, allocation.containerID);
  } catch (err) {
    // The address is already free; a stale status.podIP is corrected by the next ADD.
    ctx.log.warn({ pod, err: errorMessage(err) }, 'could not clear the pod address');
  }
}
