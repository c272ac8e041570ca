// What a real agent keeps alive, read from a heap snapshot: V8 collects all garbage before it
// writes one, so the sum of the snapshot's objects is the live heap, free of the young
// generation and of pages V8 has not given back (which is what moves the resident size and the
// heap-in-use metric from run to run). The agents of the scale lab are started with
// `--heapsnapshot-signal`, so the bench asks one for a snapshot with a signal, as a person would.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The signal an agent of the scale lab writes a heap snapshot on. */
const SNAPSHOT_SIGNAL = 'SIGUSR2';

/** Where the lab's Node processes write their snapshots, and the options that make them. */
export interface SnapshotSetup {
  dir: string;
  /** For NODE_OPTIONS of the processes the lab starts. */
  nodeOptions: string;
}

/** A directory for snapshots (`keepIn`, or a fresh temporary one) and the options to use it. */
export function snapshotSetup(keepIn?: string): SnapshotSetup {
  const dir = keepIn ?? mkdtempSync(join(tmpdir(), 'podnet-scale-heap-'));
  return {
    dir,
    nodeOptions: `--heapsnapshot-signal=${SNAPSHOT_SIGNAL} --diagnostic-dir=${dir}`,
  };
}

/**
 * Has process `pid` write a heap snapshot into `dir` and returns its live heap in MB. The file
 * stays when `keep` is set (to look at what holds the memory), and goes otherwise.
 */
export async function liveHeapMb(
  pid: number,
  dir: string,
  opts: { keep?: boolean; timeoutMs?: number } = {},
): Promise<number> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, SNAPSHOT_SIGNAL);
  const file = await snapshotWritten(pid, dir, before, opts.timeoutMs ?? 120_000);
  try {
    return liveBytes(JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshot) / 1024 / 1024;
  } finally {
    if (!opts.keep) rmSync(file, { force: true });
  }
}

/** The part of V8's heap snapshot format this reads. */
export interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[] } };
  nodes: number[];
}

/** The sum of every object's own size: everything in a snapshot is reachable. */
export function liveBytes(snapshot: HeapSnapshot): number {
  const fields = snapshot.snapshot.meta.node_fields;
  const stride = fields.length;
  const selfSize = fields.indexOf('self_size');
  if (selfSize < 0) throw new Error('scale: the heap snapshot has no self_size field');
  let bytes = 0;
  for (let i = selfSize; i < snapshot.nodes.length; i += stride) bytes += snapshot.nodes[i]!;
  return bytes;
}

/**
 * The new snapshot of `pid` once V8 has finished it: it writes the file in pieces, and a
 * complete one is valid JSON whose size no longer changes.
 */
async function snapshotWritten(
  pid: number,
  dir: string,
  before: Set<string>,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let lastSize = -1;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const name = readdirSync(dir).find(
      (f) => !before.has(f) && f.endsWith('.heapsnapshot') && f.includes(`.${pid}.`),
    );
    if (!name) continue;
    const file = join(dir, name);
    const size = existsSync(file) ? statSync(file).size : -1;
    if (size > 0 && size === lastSize && readFileSync(file, 'utf8').trimEnd().endsWith('}')) {
      return file;
    }
    lastSize = size;
  }
  throw new Error(
    `scale: process ${pid} wrote no heap snapshot in ${dir} within ${timeoutMs / 1000} s (was it started with --heapsnapshot-signal?)`,
  );
}
