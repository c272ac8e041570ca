// Sets and the iptables rules that match them, applied in the only order the kernel accepts:
// sets are created and filled before a rule may name them, and destroyed only after no rule
// does. So: one `ipset restore` (create, add, del, swap), one `iptables-restore --noflush`,
// and, when sets went away, one more `ipset restore` to destroy them.
import { ipsetScripts, parseIpsetSave, type IpsetKernel, type IpsetSpec } from './ipset.js';

export interface SetsAndRulesKernel {
  ipset: IpsetKernel;
  iptables: {
    save(table: 'filter'): Promise<string>;
    /** `iptables-restore --noflush`: all lines or none. */
    restore(text: string): Promise<void>;
  };
}

export interface SetsAndRules {
  sets: readonly IpsetSpec[];
  /** The sets the caller owns start with this; only they are changed or destroyed. */
  setPrefix: string;
  /** The restore text that takes the filter table from what this save shows to what is wanted. */
  restoreFor(filterSave: string): string;
}

export interface SetsAndRulesOutcome {
  /** Set members added or deleted. */
  changedMembers: number;
  /** Lines of restore text sent (0: the rules were already as wanted). */
  ruleLines: number;
  destroyedSets: number;
}

export async function applySetsAndRules(
  kernel: SetsAndRulesKernel,
  wanted: SetsAndRules,
): Promise<SetsAndRulesOutcome> {
  const [setSave, filterSave] = await Promise.all([
    kernel.ipset.save(),
    kernel.iptables.save('filter'),
  ]);
  const scripts = ipsetScripts(wanted.sets, parseIpsetSave(setSave), wanted.setPrefix);
  if (scripts.update) await kernel.ipset.restore(scripts.update);
  const rules = wanted.restoreFor(filterSave);
  if (rules) await kernel.iptables.restore(rules);
  if (scripts.destroy) await kernel.ipset.restore(scripts.destroy);
  return {
    changedMembers: scripts.changedMembers,
    ruleLines: rules ? rules.trimEnd().split('\n').length : 0,
    destroyedSets: scripts.destroy ? scripts.destroy.trimEnd().split('\n').length : 0,
  };
}
