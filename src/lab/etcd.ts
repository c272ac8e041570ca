// `lab up --store etcd`: etcd runs in the underlay namespace, on zone 1's router address, so
// agents, pod runners and pods reach it over the lab's network as they would on real hosts.
// `podnet` in the machine's own namespace reaches it through a relay listening on a free
// loopback port there (see relay.ts).
import { join } from 'node:path';
import { isRunning, listensOnTcp } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import type { LabPlan } from './plan.js';
import { startLoopbackRelay } from './relay-process.js';
import { startProcess, type ProcessRecord } from './supervisor.js';
import { pollUntil } from './wait.js';

/** Where etcd serves the lab: zone 1's router address on the underlay (plan.hostStoreUrl). */
export function etcdClientAddress(plan: LabPlan): string {
  return plan.hostStoreUrl.slice('etcd:'.length);
}

export function etcdArgv(plan: LabPlan): string[] {
  const client = `http://${etcdClientAddress(plan)}`;
  const peer = 'http://127.0.0.1:2380';
  return [
    'etcd',
    '--name',
    plan.name,
    '--data-dir',
    join(plan.stateDir, 'etcd'),
    '--listen-client-urls',
    client,
    '--advertise-client-urls',
    client,
    '--listen-peer-urls',
    peer,
    '--initial-advertise-peer-urls',
    peer,
    '--initial-cluster',
    `${plan.name}=${peer}`,
    '--log-level',
    'warn',
  ];
}

export interface LabEtcd {
  /** For `podnet` in the machine's namespace (through the relay). */
  storeUrl: string;
  /** For everything inside the lab. */
  hostStoreUrl: string;
  processes: ProcessRecord[];
}

/** The relay's supervisor id: it is started again on the same port (repair.ts), not from its record. */
export const ETCD_RELAY = 'etcd-relay';

export async function startLabEtcd(plan: LabPlan, timeoutMs = 30_000): Promise<LabEtcd> {
  const address = etcdClientAddress(plan);
  const etcd = await startProcess(plan.stateDir, {
    id: 'etcd',
    argv: etcdArgv(plan),
    netns: plan.underlayNetns,
    enter: 'nsenter',
  });
  const { relay, port } = await startLoopbackRelay(
    plan.stateDir,
    ETCD_RELAY,
    plan.underlayNetns,
    address,
  );
  const up = await pollUntil(() => {
    if (!isRunning(etcd)) throw new OperationError(`etcd exited (log: ${etcd.log})`);
    return listensOnTcp(etcd.pid, address) ? true : undefined;
  }, timeoutMs);
  if (!up) throw new OperationError(`etcd not serving ${address} after ${timeoutMs / 1000}s`);
  return {
    storeUrl: `etcd:127.0.0.1:${port}`,
    hostStoreUrl: `etcd:${address}`,
    processes: [etcd, relay],
  };
}
