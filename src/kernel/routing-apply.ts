// Applies changes with one batch per run of consecutive commands of the same program: a
// reconcile is typically one `ip -batch` (plus one `bridge -batch` for VXLAN FDB entries and
// one `sysctl -w`), never a process per route. `-force` lets independent lines go through
// when one fails; the failures are reported together and retried on the next reconcile.
import { run } from '../process/run.js';
import { runIproute } from './iproute.js';
import type { Change } from './netobjects.js';
import { renderChange, type Command, type Tool } from './routing-render.js';
import { OperationError, errorMessage } from '../util/errors.js';
import { runWg, startWireguardGo, type WireguardRunOptions } from './wireguard.js';

export interface ApplyResult {
  /** Programs started (one per batch). */
  batches: number;
}

export async function applyChanges(
  changes: readonly Change[],
  opts: { netns?: string; wireguard?: WireguardRunOptions } = {},
): Promise<ApplyResult> {
  const groups = groupByTool(changes.flatMap(renderChange));
  const failures: string[] = [];
  const wgOpts = { ...opts.wireguard, netns: opts.netns };
  for (const group of groups) {
    if (group.tool === 'wg' || group.tool === 'wireguard-go') {
      failures.push(...(await applyWireguard(group, wgOpts)));
      continue;
    }
    const runOpts = { netns: opts.netns, okCodes: [1, 255] };
    const result =
      group.tool === 'sysctl'
        ? await run(
            ['sysctl', '-q', '-w', ...group.lines.map((l) => l.replace(/^-w /, ''))],
            runOpts,
          )
        : await runIproute(group.tool, ['-force', '-batch', '-'], {
            ...runOpts,
            input: group.lines.join('\n') + '\n',
          });
    if (result.code !== 0) failures.push(...explain(group, result.stderr));
  }
  if (failures.length > 0) {
    throw new OperationError(`${failures.length} kernel change(s) failed: ${failures.join('; ')}`);
  }
  return { batches: groups.length };
}

/**
 * `wg set` takes any number of peer clauses, so the lines for one device become one command;
 * wireguard-go lines start the daemon for their device.
 */
async function applyWireguard(group: Group, opts: WireguardRunOptions): Promise<string[]> {
  const failures: string[] = [];
  const byDevice = new Map<string, string[]>();
  for (const line of group.lines) {
    const [verb, device, ...rest] = line.split(' ');
    if (group.tool === 'wireguard-go') {
      await startWireguardGo(line, opts).catch((err) => failures.push(errorMessage(err)));
    } else if (verb === 'set' && device) {
      byDevice.set(device, [...(byDevice.get(device) ?? []), ...rest]);
    }
  }
  for (const [device, args] of byDevice) {
    await runWg(['set', device, ...args], opts).catch((err) => failures.push(errorMessage(err)));
  }
  return failures;
}

interface Group {
  tool: Tool;
  lines: string[];
}

function groupByTool(commands: Command[]): Group[] {
  const groups: Group[] = [];
  for (const c of commands) {
    const last = groups.at(-1);
    if (last?.tool === c.tool) last.lines.push(c.line);
    else groups.push({ tool: c.tool, lines: [c.line] });
  }
  return groups;
}

/** Pairs each "Command failed -:N" with the line it refers to and the kernel's reason. */
function explain(group: Group, stderr: string): string[] {
  const out: string[] = [];
  let reason = '';
  for (const line of stderr.split('\n')) {
    const m = /Command failed -:(\d+)/.exec(line);
    if (m) {
      out.push(`${group.tool} ${group.lines[Number(m[1]) - 1] ?? '?'}: ${reason || 'failed'}`);
      reason = '';
    } else if (line.trim()) {
      reason = line.trim();
    }
  }
  if (out.length === 0) out.push(`${group.tool}: ${stderr.trim() || 'failed'}`);
  return out;
}
