// One reconcile of one host: read what the kernel has (or take what the last reconcile left
// there), build what the cluster wants, diff, and (unless only planning) apply the difference.
import type { Node } from '../api/types.js';
import type { ActualState, Change, Underlay } from '../kernel/netobjects.js';
import { OperationError } from '../util/errors.js';
import { backendDriver } from './backends/registry.js';
import { IPIP_DEVICE } from './backends/ipip.js';
import { VXLAN_DEVICE } from './backends/vxlan.js';
import { encrypted, WIREGUARD_DEVICE } from './backends/wireguard.js';
import {
  emptyState,
  type BackendDriver,
  type BackendInput,
  type DesiredState,
  type PeerProblem,
  type WireguardSelf,
} from './desired.js';
import type { AutoTunnel, Encryption } from '../api/types.js';
import type { RoutingKernel } from './kernel.js';
import { diffState } from './diff.js';
import { stateAfter } from './expected.js';
import { splitHosts } from './peers.js';
import { addIPv6, hasIPv4Pods, VXLAN6_DEVICE } from './ipv6.js';

/** This node has no Node object with a pod subnet and InternalIP yet (normal at start-up). */
export class NodeNotReadyError extends OperationError {
  constructor(node: string) {
    super(`node ${node} has no pod subnet (spec.podCIDR) or InternalIP yet`);
    this.name = 'NodeNotReadyError';
  }
}

/** Every device podnet may create: the only links it ever changes or removes. */
export const PODNET_DEVICES = [VXLAN_DEVICE, VXLAN6_DEVICE, IPIP_DEVICE, WIREGUARD_DEVICE];

export interface HostInput {
  nodes: readonly Node[];
  selfName: string;
  backend: string;
  /** This node's VTEP MAC (used by backends with a VXLAN device). */
  vtepMac: string;
  /**
   * The underlay MTU the cluster is configured for (ClusterNetwork spec.mtu): tunnels are
   * sized from it, or from the underlay device's MTU where that is smaller.
   */
  underlayMTU?: number;
  /** ClusterNetwork spec.encryption: every peer through WireGuard, whatever the backend. */
  encryption?: Encryption;
  /** This node's WireGuard key and device kind (needed by `wireguard` and encryption). */
  wireguard?: WireguardSelf;
  /** IP-in-IP through the tc BPF programs on the underlay (the kernel has no ipip device). */
  ipipBpf?: boolean;
  /** ClusterNetwork spec.autoTunnel: what `auto` reaches peers that are not on-link through. */
  autoTunnel?: AutoTunnel;
  /**
   * Backends other hosts run for a while (a staged rollout of the backend): their tunnel
   * devices stay up here too, so that those hosts still reach this one through them.
   */
  receiveFrom?: readonly string[];
}

/** What the backend wants for both families, through WireGuard where the cluster encrypts. */
export function desiredFor(
  driver: BackendDriver,
  encryption: Encryption | undefined,
  input: BackendInput,
): DesiredState {
  // WireGuard carries both families through its one device by itself.
  if (driver.name === 'wireguard') return driver.desired(input);
  const state = hasIPv4Pods(input.self) ? driver.desired(input) : emptyState();
  addIPv6(state, driver.name, input);
  return encryption === 'wireguard' && driver.name !== 'wireguard'
    ? encrypted(state, input)
    : state;
}

/** Adds the devices (and their sysctls) of another backend that this one lacks. */
function addReceivingTunnels(desired: DesiredState, other: DesiredState): void {
  const links = new Set(desired.links.map((l) => l.name));
  desired.links.push(...other.links.filter((l) => !links.has(l.name)));
  const keys = new Set(desired.sysctls.map((s) => s.key));
  desired.sysctls.push(...other.sysctls.filter((s) => !keys.has(s.key)));
}

/** The kernel as routing last saw or left it. */
export interface KernelView {
  actual: ActualState;
  underlay: Underlay;
}

export interface HostPlan {
  changes: Change[];
  problems: PeerProblem[];
  desired: DesiredState;
  /** The kernel before the changes. */
  view: KernelView;
  peers: number;
}

/**
 * What reconcile would change on this host, without changing it. With `known`, the kernel is
 * taken to hold exactly that (no listing); without, it is read.
 */
export async function planHost(
  input: HostInput,
  kernel: RoutingKernel,
  known?: KernelView,
): Promise<HostPlan> {
  const driver = backendDriver(input.backend);
  const { self, peers } = splitHosts(input.nodes, input.selfName);
  if (!self) throw new NodeNotReadyError(input.selfName);
  let view = known;
  if (!view) {
    const { actual, underlay } = await kernel.readHostState({
      devices: PODNET_DEVICES,
      nodeIP: self.ip,
    });
    if (!underlay) {
      throw new OperationError(`node ${self.name}: no interface holds its InternalIP ${self.ip}`);
    }
    // The sysctl keys name the underlay device, so they are read once it is known.
    const keys = desiredFor(driver, input.encryption, {
      self,
      peers: [],
      underlay,
      vtepMac: input.vtepMac,
      wireguard: input.wireguard,
      ipipBpf: input.ipipBpf,
      autoTunnel: input.autoTunnel,
    }).sysctls.map((s) => s.key);
    const sysctls = await kernel.readSysctls([
      ...keys,
      'net.ipv4.conf.all.rp_filter',
      'net.ipv4.conf.default.rp_filter',
    ]);
    view = { actual: { ...actual, sysctls }, underlay };
  }
  const underlay =
    input.underlayMTU === undefined
      ? view.underlay
      : { ...view.underlay, mtu: Math.min(view.underlay.mtu, input.underlayMTU) };
  const base = {
    self,
    underlay,
    vtepMac: input.vtepMac,
    wireguard: input.wireguard,
    ipipBpf: input.ipipBpf,
    autoTunnel: input.autoTunnel,
  };
  const desired = desiredFor(driver, input.encryption, { ...base, peers });
  for (const name of input.receiveFrom ?? []) {
    if (name === driver.name || !hasIPv4Pods(self)) continue;
    addReceivingTunnels(desired, backendDriver(name).desired({ ...base, peers: [] }));
  }
  return {
    changes: diffState(desired, view.actual),
    problems: desired.problems,
    desired,
    view,
    peers: peers.length,
  };
}

export interface ReconcileResult extends HostPlan {
  /** Programs started to apply the changes. */
  batches: number;
  /** The kernel after the changes. */
  after: KernelView;
}

/**
 * Plans, runs `prepare` (what must be in place before the routes point at it; when it throws,
 * nothing is changed), then applies the plan.
 */
export async function reconcileHost(
  input: HostInput,
  kernel: RoutingKernel,
  known?: KernelView,
  prepare?: (plan: HostPlan) => Promise<void>,
): Promise<ReconcileResult> {
  const plan = await planHost(input, kernel, known);
  await prepare?.(plan);
  const after: KernelView = {
    underlay: plan.view.underlay,
    actual: stateAfter(plan.desired, plan.view.actual, plan.changes),
  };
  if (plan.changes.length === 0) return { ...plan, batches: 0, after };
  const { batches } = await kernel.applyChanges(plan.changes);
  return { ...plan, batches, after };
}
