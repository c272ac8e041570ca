// The iptables policy datapath: per apply, one `ipset restore` for the sets, one
// `iptables-restore --noflush` for the `PODNET-NP-` chains whose rules differ, and one more
// `ipset restore` for sets no longer used (src/kernel/ipset-rules.ts keeps that order). A
// marker chain holds a fingerprint of what was programmed, as in the nftables datapath: while
// the kernel's marker is the one this process wrote and the desired state is unchanged, an
// apply reads one chain and sends nothing; otherwise it reads the sets and the filter table and
// sends only the difference, so a restarted agent that wants the same state changes nothing.
import { createHash } from 'node:crypto';
import {
  adminPoliciesOf,
  type PolicyApplyOutcome,
  type KernelCheck,
  type PolicyDatapath,
  type PolicyDrops,
  type PolicyInputs,
  type PolicyLogOptions,
} from './datapath.js';
import {
  POLICY_PREFIX,
  policyRestore,
  renderPolicyIptables,
  type PolicyIptables,
} from './iptables.js';

/** The sets and the restore text to program them with (see src/kernel/ipset-rules.ts). */
export interface PolicySetsAndRules {
  sets: PolicyIptables['sets'];
  /** The sets the datapath owns start with this; only they are changed or destroyed. */
  setPrefix: string;
  /** The restore text that takes the filter table from what this save shows to what is wanted. */
  restoreFor(filterSave: string): string;
}

/** What the iptables datapath needs of the kernel (src/kernel/ gives the real one). */
export interface PolicyIptablesKernel {
  /** Sets, then rules, then stale sets destroyed; reports how much it changed. */
  apply(
    wanted: PolicySetsAndRules,
  ): Promise<{ changedMembers: number; ruleLines: number; destroyedSets: number }>;
  /** The rules of one filter chain (`-S` lines), or undefined when it is missing. */
  listChain(chain: string): Promise<string[] | undefined>;
  /** `iptables-save -c -t filter`: every rule preceded by its `[packets:bytes]`. */
  saveCounters(): Promise<string>;
}

/** The policy state with no chain, jump or set: what is left once the datapath is removed. */
const NOTHING: PolicyIptables = { sets: [], chains: new Map(), jumps: [], isolation: new Map() };

/** Holds one rule whose comment is the fingerprint of what was programmed; nothing jumps to it. */
export const MARKER_CHAIN = `${POLICY_PREFIX}PROGRAMMED`;

const digest = (text: string): string =>
  createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Fingerprints of the chains and set declarations, and of everything including members. */
export function iptablesFingerprint(desired: PolicyIptables): { rules: string; all: string } {
  const declarations = JSON.stringify([
    desired.sets.map((s) => [s.name, s.type]),
    [...desired.chains],
  ]);
  const members = JSON.stringify(desired.sets.map((s) => s.members));
  return { rules: digest(declarations), all: digest(declarations + members) };
}

const markerRule = (print: { rules: string; all: string }): string =>
  `-m comment --comment "rules=${print.rules} all=${print.all}" -j RETURN`;

const markerRules = (rule: string | undefined): string | undefined =>
  rule ? /rules=(\w+)/.exec(rule)?.[1] : undefined;

/** The marker rule as the kernel lists it; none when nothing is isolated. */
const expectedMarker = (desired: PolicyIptables, marker: string): string | undefined =>
  desired.chains.size ? `-A ${MARKER_CHAIN} ${marker}` : undefined;

/** The desired chains with the marker, or nothing at all when nothing is isolated. */
function withMarker(desired: PolicyIptables, marker: string): PolicyIptables {
  if (desired.chains.size === 0) return desired;
  return { ...desired, chains: new Map([...desired.chains, [MARKER_CHAIN, [marker]]]) };
}

/** The marker rule in an `iptables-save` of the filter table, if there is one. */
function savedMarker(filterSave: string): string | undefined {
  const prefix = `-A ${MARKER_CHAIN} `;
  return filterSave
    .split('\n')
    .find((l) => l.startsWith(prefix))
    ?.slice(prefix.length);
}

export function iptablesPolicyDatapath(
  kernel: PolicyIptablesKernel,
  log: () => PolicyLogOptions | undefined = () => undefined,
): PolicyDatapath {
  let programmed: { desired: PolicyIptables; marker: string } | undefined;
  return {
    mode: 'iptables',
    async apply(inputs: PolicyInputs, trustProgrammed = false): Promise<PolicyApplyOutcome> {
      const desired = renderPolicyIptables(
        inputs.policies,
        inputs.namespaces,
        inputs.pods,
        inputs.localPods,
        log(),
        adminPoliciesOf(inputs),
      );
      const print = iptablesFingerprint(desired);
      const marker = markerRule(print);
      if (programmed?.marker === marker) {
        if (trustProgrammed) return { change: 'none', sent: 0 };
        // One chain read tells whether the kernel still holds what this process wrote.
        const inKernel = (await kernel.listChain(MARKER_CHAIN))?.[0];
        if (inKernel === expectedMarker(desired, marker)) return { change: 'none', sent: 0 };
      }
      programmed = undefined;
      const full = withMarker(desired, marker);
      let kernelRules: string | undefined;
      const outcome = await kernel.apply({
        sets: full.sets,
        setPrefix: POLICY_PREFIX,
        restoreFor: (save) => {
          kernelRules = markerRules(savedMarker(save));
          return policyRestore(full, save);
        },
      });
      programmed = { desired, marker };
      const sent = outcome.changedMembers + outcome.ruleLines + outcome.destroyedSets;
      let change: PolicyApplyOutcome['change'] = 'table';
      if (sent === 0) change = 'none';
      else if (kernelRules === print.rules) change = 'elements';
      return { change, sent };
    },
    async check(): Promise<KernelCheck> {
      const compared = programmed;
      if (!compared) return 'unsettled';
      const inKernel = (await kernel.listChain(MARKER_CHAIN))?.[0];
      if (programmed !== compared) return 'unsettled';
      return inKernel === expectedMarker(compared.desired, compared.marker) ? 'holds' : 'differs';
    },
    isolationOf: (chain) => programmed?.desired.isolation.get(chain),
    async remove(): Promise<void> {
      programmed = undefined;
      // Nothing wanted: the jumps, every `PODNET-NP-` chain, then every such set go.
      await kernel.apply({
        sets: NOTHING.sets,
        setPrefix: POLICY_PREFIX,
        restoreFor: (save) => policyRestore(NOTHING, save),
      });
    },
    async drops(): Promise<PolicyDrops[]> {
      const desired = programmed?.desired;
      if (!desired || desired.isolation.size === 0) return [];
      const counted = droppedPackets(await kernel.saveCounters());
      return [...desired.isolation].map(([chain, { direction, policies }]) => ({
        direction,
        policies,
        packets: counted.get(chain) ?? 0,
      }));
    },
  };
}

/** Chain → packets counted by the `-j DROP` that ends it, from `iptables-save -c`. */
export function droppedPackets(countedSave: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of countedSave.split('\n')) {
    const m = /^\[(\d+):\d+\] -A (\S+) -j DROP$/.exec(line);
    if (m?.[2]!.startsWith(POLICY_PREFIX)) out.set(m[2], Number(m[1]));
  }
  return out;
}
