// The nftables policy datapath: reconciles the table `ip podnet-policy` with the desired one in
// one `nft -f` per apply. When only set and map elements differ (pod and label churn), the
// script deletes and adds exactly those; when a rule or declaration differs, the table is
// replaced in the same single transaction, so packets meet either the old table or the new,
// and `ct state established,related accept` first in every chain keeps established
// connections through it. A marker chain holds a fingerprint of what was programmed: a
// restarted agent that wants the same table sends nothing, and a table someone flushed or
// changed is noticed and rewritten.
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
  POLICY_TABLE,
  desiredPolicyTable,
  policyTableScript,
  type PolicyTable,
} from './nftables.js';

/** What the nftables datapath needs of the kernel (src/kernel/nft.ts gives the real one). */
export interface PolicyNftKernel {
  /** Runs an nft script as one transaction; on any error nothing changes. */
  run(script: string): Promise<void>;
  /** The rules of one chain as nft prints them, or undefined when it (or its table) is missing. */
  listChain(family: string, table: string, chain: string): Promise<string[] | undefined>;
}

/** Holds one rule whose comment is the fingerprint of the programmed table; nothing jumps to it. */
const MARKER_CHAIN = 'programmed';

const digest = (text: string): string =>
  createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Fingerprints of the table's rules and declarations, and of everything including elements. */
export function policyFingerprint(table: PolicyTable): { rules: string; all: string } {
  const declarations = JSON.stringify([
    [...table.sets].map(([name, set]) => [name, set.body]),
    [...table.chains],
  ]);
  const elements = JSON.stringify([...table.sets].map(([name, set]) => [name, set.elements]));
  return { rules: digest(declarations), all: digest(declarations + elements) };
}

const markerRule = (print: { rules: string; all: string }): string =>
  `return comment "rules=${print.rules} all=${print.all}"`;

const elementKey = (element: string): string => element.split(' : ')[0]!;

/**
 * The element changes from `programmed` to `desired` (same rules and declarations): removed and
 * re-pointed elements deleted first, then new ones added, and the marker rewritten.
 */
export function elementScript(
  programmed: PolicyTable,
  desired: PolicyTable,
  marker: string,
  table = POLICY_TABLE,
): string {
  const out: string[] = [];
  const adds: string[] = [];
  for (const [name, set] of desired.sets) {
    const had = new Set(programmed.sets.get(name)?.elements ?? []);
    const want = new Set(set.elements);
    const gone = [...had].filter((e) => !want.has(e));
    const fresh = [...want].filter((e) => !had.has(e));
    if (gone.length)
      out.push(`delete element ${table} ${name} { ${gone.map(elementKey).join(', ')} }`);
    if (fresh.length) adds.push(`add element ${table} ${name} { ${fresh.join(', ')} }`);
  }
  if (out.length + adds.length === 0) return '';
  out.push(
    ...adds,
    `flush chain ${table} ${MARKER_CHAIN}`,
    `add rule ${table} ${MARKER_CHAIN} ${marker}`,
  );
  return `${out.join('\n')}\n`;
}

/** The whole table anew in one transaction (`add` first, so `delete` works on a first run). */
export function replaceScript(desired: PolicyTable, marker: string, table = POLICY_TABLE): string {
  return [
    `add table ${table}`,
    `delete table ${table}`,
    policyTableScript(desired, table).trimEnd(),
    `add chain ${table} ${MARKER_CHAIN}`,
    `add rule ${table} ${MARKER_CHAIN} ${marker}`,
    '',
  ].join('\n');
}

const lines = (text: string): number => text.split('\n').filter(Boolean).length;

export function nftablesPolicyDatapath(
  kernel: PolicyNftKernel,
  log: () => PolicyLogOptions | undefined = () => undefined,
): PolicyDatapath {
  const [family, name] = POLICY_TABLE.split(' ') as [string, string];
  let programmed: { table: PolicyTable; marker: string } | undefined;
  return {
    mode: 'nftables',
    async apply(inputs: PolicyInputs, trustProgrammed = false): Promise<PolicyApplyOutcome> {
      const desired = desiredPolicyTable(
        inputs.policies,
        inputs.namespaces,
        inputs.pods,
        inputs.localPods,
        log(),
        adminPoliciesOf(inputs),
      );
      const print = policyFingerprint(desired);
      const marker = markerRule(print);
      if (trustProgrammed && programmed) {
        if (programmed.marker === marker) return { change: 'none', sent: 0 };
        if (policyFingerprint(programmed.table).rules === print.rules) {
          const script = elementScript(programmed.table, desired, marker);
          try {
            await kernel.run(script);
            programmed = { table: desired, marker };
            return { change: 'elements', sent: lines(script) };
          } catch {
            // The table changed behind this process's back: read it below.
          }
        }
      }
      // The kernel's marker says what it holds: after a restart, or after someone else
      // touched the table, what this process remembers is not to be trusted.
      const inKernel = (await kernel.listChain(family, name, MARKER_CHAIN))?.[0];
      const previous =
        inKernel !== undefined && inKernel === programmed?.marker ? programmed : undefined;
      let script: string;
      let change: PolicyApplyOutcome['change'];
      if (inKernel === marker) {
        script = '';
        change = 'none';
      } else if (previous && policyFingerprint(previous.table).rules === print.rules) {
        script = elementScript(previous.table, desired, marker);
        change = 'elements';
      } else {
        script = replaceScript(desired, marker);
        change = 'table';
      }
      programmed = undefined;
      if (script) await kernel.run(script);
      programmed = { table: desired, marker };
      return { change, sent: lines(script) };
    },
    async check(): Promise<KernelCheck> {
      const compared = programmed;
      if (!compared) return 'unsettled';
      const inKernel = (await kernel.listChain(family, name, MARKER_CHAIN))?.[0];
      if (programmed !== compared) return 'unsettled';
      return inKernel === compared.marker ? 'holds' : 'differs';
    },
    isolationOf: (chain) => programmed?.table.isolation.get(chain),
    async remove(): Promise<void> {
      programmed = undefined;
      // `add` first, so that `delete` of a table that is not there is no error.
      await kernel.run(`add table ${POLICY_TABLE}\ndelete table ${POLICY_TABLE}\n`);
    },
    async drops(): Promise<PolicyDrops[]> {
      const table = programmed?.table;
      if (!table) return [];
      return Promise.all(
        [...table.isolation].map(async ([chain, { direction, policies }]) => {
          const rules = (await kernel.listChain(family, name, chain)) ?? [];
          return { direction, policies, packets: droppedPackets(rules) };
        }),
      );
    },
  };
}

/** Packets counted by the counted drop that ends an isolation chain (nft prints the count in it). */
function droppedPackets(rules: string[]): number {
  const drop = rules.find((r) => r.startsWith('counter') && r.endsWith('drop'));
  const m = drop ? /^counter packets (\d+)/.exec(drop) : null;
  return m ? Number(m[1]) : 0;
}
