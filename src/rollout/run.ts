// Walks a rollout plan with the effects it is given: moves the canary, checks it, then each
// batch, and writes the cluster-wide object last. The first failed move or check stops it, and
// every host moved so far goes back to the cluster-wide settings (which were never changed), so
// the hosts not reached yet never see the change at all.
import type { NodeSettings } from '../api/node-settings.js';
import { errorMessage } from '../util/errors.js';
import type { RolloutPlan } from './plan.js';

export interface RolloutEffects {
  /**
   * Gives `hosts` these settings (undefined: back to the cluster-wide ones) and resolves once
   * each host's agent says it has applied them; rejects with the reason when one does not.
   */
  move(hosts: string[], settings: NodeSettings | undefined): Promise<void>;
  /** What is wrong on `host` with the settings it now runs (empty: healthy). */
  check(host: string): Promise<string[]>;
  /** Writes the cluster-wide object and drops the hosts' own settings. */
  finish(): Promise<void>;
  /** One line of progress for the person watching. */
  progress(line: string): void;
}

export interface RolloutOutcome {
  ok: boolean;
  /** Why it stopped, one line each (empty when it finished). */
  reasons: string[];
  /** The hosts moved back, in order (empty when none had to be). */
  rolledBack: string[];
  /** Hosts that did not come back to the cluster-wide settings (a rollback that failed). */
  stranded: string[];
}

export async function runRollout(
  plan: RolloutPlan,
  effects: RolloutEffects,
): Promise<RolloutOutcome> {
  const moved: string[] = [];
  for (const step of plan.steps) {
    let reasons: string[] = [];
    if (step.kind === 'move') {
      effects.progress(
        `${step.role === 'canary' ? 'canary' : 'batch'} ${step.hosts.join(', ')}: moving`,
      );
      moved.push(...step.hosts);
      try {
        await effects.move(step.hosts, plan.settings);
      } catch (err) {
        reasons = [errorMessage(err)];
      }
    } else if (step.kind === 'check') {
      for (const host of step.hosts) {
        reasons.push(...(await effects.check(host)).map((r) => `${host}: ${r}`));
      }
      if (reasons.length === 0) effects.progress(`${step.hosts.join(', ')}: every check passed`);
    } else {
      try {
        await effects.finish();
        effects.progress('cluster-wide settings written; every host runs them');
      } catch (err) {
        reasons = [errorMessage(err)];
      }
    }
    if (reasons.length > 0) return rollBack(moved, reasons, effects);
  }
  return { ok: true, reasons: [], rolledBack: [], stranded: [] };
}

async function rollBack(
  moved: string[],
  reasons: string[],
  effects: RolloutEffects,
): Promise<RolloutOutcome> {
  for (const r of reasons) effects.progress(`stopped: ${r}`);
  effects.progress(`rolling back ${moved.join(', ')}`);
  try {
    await effects.move(moved, undefined);
    return { ok: false, reasons, rolledBack: moved, stranded: [] };
  } catch (err) {
    return {
      ok: false,
      reasons: [...reasons, `rollback: ${errorMessage(err)}`],
      rolledBack: [],
      stranded: moved,
    };
  }
}
