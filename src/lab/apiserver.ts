// `lab up`'s API server: `podnet apiserver` runs in the underlay namespace on zone 1's router
// address, port 6443, so hosts and pods reach it over the lab's network as they would a
// control plane; `podnet` and kubectl in the machine's own namespace reach it through a relay on
// a free loopback port (as etcd's). The admin's kubeconfig, pointing at that port, is written to
// the lab's directory.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminKubeconfig } from '../apiserver/kubeconfig.js';
import { ensurePki } from '../apiserver/pki.js';
import { isRunning, listensOnTcp } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import type { LabPlan } from './plan.js';
import { podnetBin } from './paths.js';
import { startLoopbackRelay } from './relay-process.js';
import { startProcess } from './supervisor.js';
import { pollUntil } from './wait.js';

export const API_SERVER = 'apiserver';
/** Started again on the port the kubeconfig names (repair.ts), not from its record. */
export const API_SERVER_RELAY = 'apiserver-relay';
const PORT = 6443;

export interface LabApiServer {
  /** For kubectl in the machine's namespace (through the relay): the kubeconfig's server. */
  url: string;
  /** For hosts and pods, over the underlay. */
  hostUrl: string;
  kubeconfig: string;
}

/** Where the API server listens on the underlay: zone 1's router address. */
export function apiServerAddress(plan: LabPlan): { host: string; port: number } {
  return { host: plan.zones[0]!.router, port: PORT };
}

export function kubeconfigPath(stateDir: string): string {
  return join(stateDir, 'kubeconfig');
}

export function apiServerStateDir(stateDir: string): string {
  return join(stateDir, 'apiserver');
}

export function apiServerArgv(plan: LabPlan): string[] {
  const { host, port } = apiServerAddress(plan);
  return [
    podnetBin(),
    'apiserver',
    '--store',
    plan.hostStoreUrl,
    '--listen',
    host,
    '--port',
    String(port),
    '--state-dir',
    apiServerStateDir(plan.stateDir),
  ];
}

export async function startLabApiServer(plan: LabPlan, timeoutMs = 30_000): Promise<LabApiServer> {
  const { host, port } = apiServerAddress(plan);
  // Made here rather than by the server's first start, so the kubeconfig can be written now.
  const pki = await ensurePki(apiServerStateDir(plan.stateDir), [host]);
  const server = await startProcess(plan.stateDir, {
    id: API_SERVER,
    argv: apiServerArgv(plan),
    netns: plan.underlayNetns,
    enter: 'nsenter',
  });
  const { port: local } = await startLoopbackRelay(
    plan.stateDir,
    API_SERVER_RELAY,
    plan.underlayNetns,
    `${host}:${port}`,
  );
  const up = await pollUntil(() => {
    if (!isRunning(server)) throw new OperationError(`apiserver exited (log: ${server.log})`);
    return listensOnTcp(server.pid, `${host}:${port}`) ? true : undefined;
  }, timeoutMs);
  if (!up) {
    throw new OperationError(`apiserver not serving ${host}:${port} after ${timeoutMs / 1000}s`);
  }
  const url = `https://127.0.0.1:${local}`;
  const kubeconfig = kubeconfigPath(plan.stateDir);
  writeFileSync(kubeconfig, adminKubeconfig(pki, url, plan.name), { mode: 0o600 });
  return { url, hostUrl: `https://${host}:${port}`, kubeconfig };
}
