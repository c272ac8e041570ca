// One reconcile of one host: read what the kernel has, build what the cluster wants, diff,
// and (unless only planning) apply the difference.
import type { Node } from '../api/types.js';
import type { Change, Underlay } from '../kernel/netobjects.js';
import { applyChanges } from '../kernel/routing-apply.js';
import { readHostState, readSysctls } from '../kernel/routing-read.js';
import { OperationError } from '../util/errors.js';
import { backendDriver } from './backends/registry.js';
import { IPIP_DEVICE } from './backends/ipip.js';
import { VXLAN_DEVICE } from './backends/vxlan.js';
import type { PeerProblem } from './desired.js';
import { diffState } from './diff.js';
import { splitHosts } from './peers.js';

/** Every device podnet may create: the only links it ever changes or removes. */
export const PODNET_DEVICES = [VXLAN_DEVICE, IPIP_DEVICE];

export interface HostInput {
  nodes: readonly Node[];
  selfName: string;
  backend: string;
  /** This node's VTEP MAC (used by backends with a VXLAN device). */
  vtepMac: string;
  /** The network namespace of the host (absent: the namespace this process runs in). */
  netns?: string;
}

export interface HostPlan {
  changes: Change[];
  problems: PeerProblem[];
  underlay: Underlay;
  peers: number;
}

/** What reconcile would change on this host, without changing it. */
export async function planHost(input: HostInput): Promise<HostPlan> {
  const driver = backendDriver(input.backend);
  const { self, peers } = splitHosts(input.nodes, input.selfName);
  if (!self) {
    throw new OperationError(
      `node ${input.selfName} has no pod subnet (spec.podCIDR) or InternalIP yet`,
    );
  }
  const { actual, underlay } = await readHostState({
    netns: input.netns,
    devices: PODNET_DEVICES,
    nodeIP: self.ip,
  });
  if (!underlay) {
    throw new OperationError(`node ${self.name}: no interface holds its InternalIP ${self.ip}`);
  }
  const desired = driver.desired({ self, peers, underlay, vtepMac: input.vtepMac });
  const sysctlKeys = [
    ...desired.sysctls.map((s) => s.key),
    'net.ipv4.conf.all.rp_filter',
    'net.ipv4.conf.default.rp_filter',
  ];
  const sysctls = await readSysctls(sysctlKeys, input.netns);
  return {
    changes: diffState(desired, { ...actual, sysctls }),
    problems: desired.problems,
    underlay,
    peers: peers.length,
  };
}

export interface ReconcileResult extends HostPlan {
  batches: number;
}

export async function reconcileHost(input: HostInput): Promise<ReconcileResult> {
  const plan = await planHost(input);
  if (plan.changes.length === 0) return { ...plan, batches: 0 };
  const { batches } = await applyChanges(plan.changes, { netns: input.netns });
  return { ...plan, batches };
}
