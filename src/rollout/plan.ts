// The staged rollout of a changed ClusterNetwork, as data: which host goes first (the canary),
// which go together after it (batches), and what undoes the hosts already moved when a check
// fails. Nothing here touches the store or a kernel: `run.ts` walks these steps with the
// effects it is given.
import { PER_HOST_SETTINGS, type NodeSettings } from '../api/node-settings.js';
import type { ClusterNetwork } from '../api/types.js';

type Spec = ClusterNetwork['spec'];

export type RolloutStep =
  /** Give these hosts the new settings and wait until their agents have applied them. */
  | { kind: 'move'; hosts: string[]; role: 'canary' | 'batch' }
  /** Check each of these hosts: its health and its reach to a pod on every other host. */
  | { kind: 'check'; hosts: string[] }
  /** Write the cluster-wide object, then drop the hosts' own settings (now the same). */
  | { kind: 'finish' };

export interface RolloutPlan {
  canary: string;
  batches: string[][];
  /** The per-host settings the hosts are moved to, under this rollout's generation. */
  settings: NodeSettings;
  steps: RolloutStep[];
}

/**
 * The per-host part of a change: the settings a host can run apart from the others for a while
 * (what is not among them, such as a CIDR addition, reaches every host with the final write).
 */
export function perHostChange(current: Spec, proposed: Spec, generation: string): NodeSettings {
  const settings: NodeSettings = { generation };
  for (const key of PER_HOST_SETTINGS) {
    if (proposed[key] !== current[key]) Object.assign(settings, { [key]: proposed[key] });
  }
  return settings;
}

/**
 * Canary first (the one named, else the first host by name), then the others in batches of
 * `batchSize`, each moved and then checked; the cluster-wide object last.
 */
export function planRollout(
  hosts: readonly string[],
  settings: NodeSettings,
  opts: { batchSize: number; canary?: string },
): RolloutPlan {
  const sorted = [...hosts].sort();
  if (sorted.length === 0) throw new Error('there are no hosts to roll out to');
  if (opts.canary !== undefined && !sorted.includes(opts.canary)) {
    throw new Error(`--canary ${opts.canary}: no such Node (known: ${sorted.join(', ')})`);
  }
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new Error(`--batch ${opts.batchSize}: give a whole number of hosts, at least 1`);
  }
  const canary = opts.canary ?? sorted[0]!;
  const rest = sorted.filter((h) => h !== canary);
  const batches: string[][] = [];
  for (let i = 0; i < rest.length; i += opts.batchSize) {
    batches.push(rest.slice(i, i + opts.batchSize));
  }
  const steps: RolloutStep[] = [
    { kind: 'move', hosts: [canary], role: 'canary' },
    { kind: 'check', hosts: [canary] },
    ...batches.flatMap((hosts): RolloutStep[] => [
      { kind: 'move', hosts, role: 'batch' },
      { kind: 'check', hosts },
    ]),
    { kind: 'finish' },
  ];
  return { canary, batches, settings, steps };
}
