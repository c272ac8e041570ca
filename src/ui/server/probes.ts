// What the map learns by running podnet itself: `podnet doctor` per node (its findings colour
// the hosts) and `podnet trace` on request. Both read the kernel, which only their own verbs
// know how to do; the server runs them as child processes and reads their JSON.
import { run } from '../../process/run.js';
import { errorMessage } from '../../util/errors.js';
import type { Finding } from './map-model.js';
import type { TraceHop } from './trace-overlay.js';

/** Runs `podnet ARGS` with the server's own cluster flags; resolves with stdout and exit code. */
export type PodnetRunner = (
  args: string[],
) => Promise<{ stdout: string; stderr: string; code: number }>;

/** `command` runs podnet (node and its script); `clusterArgs` are the flags naming the cluster. */
export function podnetRunner(command: string[], clusterArgs: string[]): PodnetRunner {
  return (args) =>
    // 1: the verb ran and found something broken (doctor, trace); 2: bad input, said on stderr.
    run([...command, ...clusterArgs, ...args], { okCodes: [1, 2], timeoutMs: 60_000 });
}

interface DoctorReport {
  verdicts: { check: string; ok: boolean; detail: string; fix?: string }[];
}

export async function doctorFindings(podnet: PodnetRunner, node: string): Promise<Finding[]> {
  const r = await podnet(['doctor', '--node', node, '-o', 'json']);
  if (r.code === 2) throw new Error(r.stderr.trim() || `podnet doctor --node ${node}: bad input`);
  const report = JSON.parse(r.stdout) as DoctorReport;
  return report.verdicts
    .filter((v) => !v.ok)
    .map((v) => ({ check: v.check, detail: v.detail, ...(v.fix ? { fix: v.fix } : {}) }));
}

export interface TraceRequest {
  namespace: string;
  pod: string;
  destination: string;
}

export type TraceOutcome =
  { hops: TraceHop[]; verdict: { ok: boolean; text: string } } | { error: string };

export async function runTrace(podnet: PodnetRunner, req: TraceRequest): Promise<TraceOutcome> {
  // `--` keeps a name that starts with '-' from being read as a flag.
  const r = await podnet([
    'trace',
    '-n',
    req.namespace,
    '-o',
    'json',
    '--',
    req.pod,
    req.destination,
  ]);
  if (r.code === 2 || r.stdout.trim() === '') {
    return { error: r.stderr.trim().split('\n')[0] || 'podnet trace failed' };
  }
  return JSON.parse(r.stdout) as TraceOutcome;
}

/**
 * Runs doctor on every node now and then every `intervalMs`, one node at a time (doctor reads
 * a whole host's kernel state; the map does not need it faster than a person reads it).
 */
export function startDoctorRounds(
  podnet: PodnetRunner,
  nodes: () => string[],
  report: (node: string, findings: Finding[]) => void,
  onError: (message: string) => void,
  intervalMs: number,
): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const round = async (): Promise<void> => {
    for (const node of nodes()) {
      if (stopped) return;
      try {
        report(node, await doctorFindings(podnet, node));
      } catch (err) {
        onError(`doctor --node ${node}: ${errorMessage(err)}`);
      }
    }
    if (!stopped) timer = setTimeout(() => void round(), intervalMs);
  };
  void round();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
