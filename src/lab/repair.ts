// `podnet lab repair` (and `lab up` on a lab that is up): starts again exactly the lab's
// processes that died — agents, pod runners, etcd and its relay, the fabric router, the DNS
// upstream — each as it was started, and leaves every live one alone. Pod containers are not
// among them: their pod runner restarts them with its back-off, as kubelet would.
import { isRunning } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import { ETCD_RELAY, startEtcdRelay } from './etcd.js';
import { labStateDir } from './plan.js';
import { readLabState, type LabState } from './state.js';
import { listProcesses, startProcess, type ProcessRecord } from './supervisor.js';

export interface Repaired {
  id: string;
  pid: number;
}

/** The lab's own daemons that are no longer running (pod containers are their runner's). */
export function deadDaemons(
  records: readonly ProcessRecord[],
  running: (p: ProcessRecord) => boolean,
) {
  return records.filter((p) => !p.id.startsWith('pod-') && !running(p));
}

export async function labRepair(labsDir: string, name: string): Promise<Repaired[]> {
  const state = readLabState(labStateDir(labsDir, name));
  if (!state) throw new OperationError(`lab ${name} is not up (see 'podnet lab status')`);
  const out: Repaired[] = [];
  for (const p of deadDaemons(listProcesses(state.stateDir), isRunning)) {
    const again = p.id === ETCD_RELAY ? await restartRelay(state, p) : await restart(state, p);
    out.push({ id: again.id, pid: again.pid });
  }
  return out;
}

function restart(state: LabState, p: ProcessRecord): Promise<ProcessRecord> {
  return startProcess(state.stateDir, {
    id: p.id,
    argv: p.argv,
    ...(p.netns ? { netns: p.netns } : {}),
    ...(p.enter ? { enter: p.enter } : {}),
    ...(p.cwd ? { cwd: p.cwd } : {}),
  });
}

/** The relay on the port `podnet` already uses (lab.json's storeUrl), to the same etcd. */
async function restartRelay(state: LabState, p: ProcessRecord): Promise<ProcessRecord> {
  const port = Number(state.storeUrl.slice(state.storeUrl.lastIndexOf(':') + 1));
  const address = p.argv[p.argv.indexOf('--to') + 1]!;
  const { relay } = await startEtcdRelay(state.stateDir, state.underlay.netns, address, port);
  return relay;
}
