// Running `ip`/`bridge` in a named network namespace with their own `-n` option: one exec
// instead of nsenter + the tool, which matters when a reconcile is a couple of batches.
import { run, type RunOptions, type RunResult } from '../process/run.js';

export function runIproute(
  tool: 'ip' | 'bridge',
  args: string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const { netns, ...rest } = opts;
  if (netns && !netns.includes('/')) return run([tool, '-n', netns, ...args], rest);
  return run([tool, ...args], opts);
}
