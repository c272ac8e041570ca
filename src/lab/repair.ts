// `podnet lab repair` (and `lab up` on a lab that is up): starts again exactly the lab's
// processes that died — agents, pod runners, etcd, the API server and their relays, the fabric
// router, the DNS upstream — each as it was started, and leaves every live one alone. Pod containers are not
// among them: their pod runner restarts them with its back-off, as kubelet would.
import { isRunning } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import { API_SERVER_RELAY } from './apiserver.js';
import { ETCD_RELAY } from './etcd.js';
import { CLOUD_RELAY, LAB_AWS_ENV, readLabCloud } from './cloud-up.js';
import { portOf, startLoopbackRelays } from './relay-process.js';
import { parseEtcdUrl } from '../store/etcd-url.js';
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
    const ports = relayPorts(state).get(p.id);
    const again = ports ? await restartRelay(state, p, ports) : await restart(state, p);
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
    ...(state.options.backend === 'cloud' ? { env: { ...process.env, ...LAB_AWS_ENV } } : {}),
  });
}

/**
 * The loopback ports the relays must serve on again: the ones lab.json's store URL and the
 * kubeconfig name, which `podnet` and kubectl already use.
 */
function relayPorts(state: LabState): Map<string, number[]> {
  const ports = new Map<string, number[]>();
  if (state.storeUrl !== state.hostStoreUrl) {
    // One port per etcd member, in the order the relay's `--to` name them.
    ports.set(ETCD_RELAY, parseEtcdUrl(state.storeUrl).hosts.map(portOf));
  }
  if (state.apiServer) ports.set(API_SERVER_RELAY, [portOf(state.apiServer.url)]);
  const cloud = state.options.backend === 'cloud' ? readLabCloud(state.stateDir) : undefined;
  if (cloud) ports.set(CLOUD_RELAY, [portOf(cloud.hostEndpoint)]);
  return ports;
}

/** The relay on the same loopback ports, to the same servers. */
async function restartRelay(state: LabState, p: ProcessRecord, ports: number[]) {
  const addresses = p.argv.flatMap((arg, i) => (arg === '--to' ? [p.argv[i + 1]!] : []));
  const { relay } = await startLoopbackRelays(
    state.stateDir,
    p.id,
    state.underlay.netns,
    addresses,
    ports,
  );
  return relay;
}
