// Where a node's NetworkPolicy is enforced, as the policy controller sees it: it hands over the
// cluster as the node sees it, the datapath makes the kernel match it in one transaction and can
// say how many packets each set of policies dropped. nftables is one datapath; iptables with
// ipsets plugs in behind the same interface.
import type {
  AdminNetworkPolicy,
  BaselineAdminNetworkPolicy,
  Namespace,
  NetworkPolicy,
  Pod,
  PolicyType,
} from '../api/types.js';
import type { AdminPolicies } from './admin.js';

/** What the node enforces: every pod (peers), and the pods bound to this node (isolated). */
export interface PolicyInputs {
  policies: readonly NetworkPolicy[];
  /** Judged before NetworkPolicy (none when absent). */
  adminPolicies?: readonly AdminNetworkPolicy[];
  /** Judged after NetworkPolicy, for pods it does not isolate (none when absent). */
  baselinePolicies?: readonly BaselineAdminNetworkPolicy[];
  namespaces: readonly Namespace[];
  pods: readonly Pod[];
  localPods: readonly Pod[];
}

/** The admin tiers of `inputs`, as the renderings take them. */
export function adminPoliciesOf(inputs: PolicyInputs): AdminPolicies {
  return { admin: inputs.adminPolicies ?? [], baseline: inputs.baselinePolicies ?? [] };
}

export interface PolicyApplyOutcome {
  /** `none`: the kernel already held it; `elements`: only set elements changed; `table`: rules changed. */
  change: 'none' | 'elements' | 'table';
  /** Lines of the script sent (0 when nothing was). */
  sent: number;
}

/**
 * What a chain that ends in a counted drop stands for: the policies isolating its pods
 * (`namespace/name`, sorted), or the one admin Deny rule it drops for (`anp/NAME rule RULE`).
 */
export interface DropChain {
  direction: PolicyType;
  policies: string[];
}

/** Packets dropped because of the policies named, in one direction. */
export interface PolicyDrops extends DropChain {
  packets: number;
}

/**
 * What a check found: the kernel holds what was programmed, or differs (someone changed it),
 * or an apply ran meanwhile, so there was nothing settled to compare with (check again).
 */
export type KernelCheck = 'holds' | 'differs' | 'unsettled';

export interface PolicyDatapath {
  readonly mode: string;
  /**
   * Makes the kernel enforce `inputs`; on failure the kernel keeps what it had. With
   * `trustProgrammed`, what this process programmed last stands for the kernel's state
   * instead of reading it back: a new pod's ADD then waits for no listing.
   */
  apply(inputs: PolicyInputs, trustProgrammed?: boolean): Promise<PolicyApplyOutcome>;
  /**
   * Reads the kernel's marker, changing nothing, to tell whether it still holds what the last
   * apply programmed. Runs beside an apply, never queued before one.
   */
  check(): Promise<KernelCheck>;
  /** The drop counters of what the last apply programmed. */
  drops(): Promise<PolicyDrops[]>;
  /** What a dropping chain (a logged packet's prefix) stands for in what was programmed. */
  isolationOf(chain: string): DropChain | undefined;
  /**
   * Takes everything of this mode out of the kernel (its table, or its chains, jumps and sets),
   * whoever programmed it; nothing to do when there is none. The other mode's datapath must
   * enforce the policies first, or pods go unfiltered (see the agent's mode switch).
   */
  remove(): Promise<void>;
}

/**
 * The opt-in log of denied connections: before an isolation chain or an admin Deny rule drops
 * a packet, it sends it to a netlink log group (NFLOG), prefixed with its chain's name, at a
 * limited rate.
 */
export interface PolicyLogOptions {
  /** The netlink log group the agent reads. */
  group: number;
  /** At most this many packets a second are logged per dropping chain. */
  perSecond: number;
}
