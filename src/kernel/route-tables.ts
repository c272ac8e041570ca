// Routing tables apart from main, chosen by `ip rule`: read per table as JSON, and the rules
// that pick them. The lab's VPC router keeps one table per zone this way.
import { run, runJson } from '../process/run.js';

export interface TableRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
}

/**
 * The routes of a table in one family; none when the kernel has not made it yet (it does on
 * the first route).
 */
export async function listTableRoutes(
  netns: string,
  table: number,
  family: 4 | 6 = 4,
): Promise<TableRoute[]> {
  const r = await run(
    ['ip', `-${family}`, '-n', netns, '-j', 'route', 'show', 'table', String(table)],
    { okCodes: [2] },
  );
  if (r.code === 2) {
    if (/FIB table does not exist/.test(r.stderr)) return [];
    throw new Error(`ip route show table ${table} in ${netns}: ${r.stderr.trim()}`);
  }
  const text = r.stdout.trim();
  return text === '' ? [] : (JSON.parse(text) as TableRoute[]);
}

export interface TableRule {
  /** The interface packets arrive on. */
  iif: string;
  table: number;
  priority: number;
}

/**
 * Adds the rules of one family that are missing (each one is known by its priority); leaves
 * the others.
 */
export async function ensureTableRules(
  netns: string,
  rules: readonly TableRule[],
  family: 4 | 6 = 4,
): Promise<void> {
  const have = await runJson<{ priority: number; iif?: string; table?: string }[]>([
    'ip',
    `-${family}`,
    '-n',
    netns,
    '-j',
    'rule',
    'show',
  ]);
  const lines: string[] = [];
  for (const r of rules) {
    const found = have.find((h) => h.priority === r.priority);
    if (found && found.iif === r.iif && found.table === String(r.table)) continue;
    if (found) lines.push(`rule del priority ${r.priority}`);
    lines.push(`rule add priority ${r.priority} iif ${r.iif} lookup ${r.table}`);
  }
  // A batch line takes no family option: the family is the whole batch's.
  if (lines.length > 0) {
    await run(['ip', `-${family}`, '-n', netns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  }
}
