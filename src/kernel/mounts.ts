// Mounts a lab's container runtime leaves under its own directory (image root filesystems,
// the pods' network namespaces, shared memory): listed from the mount table and unmounted,
// deepest first, so that the directory can be removed.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { run } from '../process/run.js';

/** Mount points strictly under `dir`, deepest first (mountinfo field 5, octal escapes undone). */
export function mountsUnder(
  dir: string,
  mountinfo = readFileSync('/proc/self/mountinfo', 'utf8'),
): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p.startsWith(prefix));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything under `dir` (lazily: a process still holding one does not block). */
export async function unmountUnder(dir: string): Promise<number> {
  const points = mountsUnder(dir);
  for (const p of points) await run(['umount', '-l', p], { okCodes: [32] });
  return points.length;
}

/**
 * Makes `dir` a shared mount point (bound onto itself), as `ip netns` does for /run/netns: a
 * namespace mounted in it later is then seen by processes whose mount namespace was copied
 * from this one before (`ip netns exec` makes such copies), e.g. an agent checking a netns.
 */
export async function ensureSharedMount(dir: string): Promise<void> {
  if (!mountsUnder(dirname(dir)).includes(dir)) await run(['mount', '--bind', dir, dir]);
  await run(['mount', '--make-shared', dir]);
}
