// `podnet lab down`: stops the lab's recorded processes, kills whatever is left inside its
// namespaces, removes the namespaces, their /etc/netns files and the state directory.
// Idempotent: nothing to remove is success.
import { rmSync } from 'node:fs';
import {
  deleteNetns,
  listNetns,
  listNetnsEtc,
  pidsInNetns,
  removeNetnsEtc,
} from '../kernel/netns.js';
import { removeDatapathPins } from '../kernel/bpf-datapath.js';
import { processStartTime, signalPid } from '../process/daemons.js';
import { labStateDir, ownsNetns } from './plan.js';
import { listProcesses, stopProcesses } from './supervisor.js';
import { pollUntil } from './wait.js';
import { sweepContainerd } from './containerd.js';
import { readLabState } from './state.js';

export interface DownRequest {
  labsDir: string;
  name: string;
}

export interface DownResult {
  processes: number;
  namespaces: string[];
}

export async function labDown(req: DownRequest): Promise<DownResult> {
  const stateDir = labStateDir(req.labsDir, req.name);
  // Daemons first (a pod runner could otherwise start pods while they are being removed),
  // then everything recorded after that, pods included.
  const daemons = listProcesses(stateDir).filter((p) => !p.id.startsWith('pod-'));
  await stopProcesses(stateDir, daemons);
  const rest = listProcesses(stateDir);
  await stopProcesses(stateDir, rest);
  const records = [...daemons, ...rest];

  // Pods containerd ran live in namespaces of its own, under each host's directory.
  let sandboxProcesses = 0;
  for (const h of readLabState(stateDir)?.hosts ?? [])
    sandboxProcesses += await sweepContainerd(h.stateDir);
  const namespaces = (await listNetns()).filter((n) => ownsNetns(req.name, n));
  const leftover = [...pidsInNetns(namespaces).values()].flat();
  for (const pid of leftover) signalPid(pid, 'SIGKILL');
  await pollUntil(
    () => (leftover.every((p) => processStartTime(p) === undefined) ? true : undefined),
    5000,
  );
  for (const netns of namespaces) removeDatapathPins(netns);
  await deleteNetns(namespaces);
  for (const dir of listNetnsEtc().filter((n) => ownsNetns(req.name, n))) removeNetnsEtc(dir);
  rmSync(stateDir, { recursive: true, force: true });
  return { processes: records.length + leftover.length + sandboxProcesses, namespaces };
}
