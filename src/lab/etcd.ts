// `lab up --store etcd`: etcd runs in the underlay namespace, on zone 1's router address, so
// agents, pod runners and pods reach it over the lab's network as they would on real hosts.
// `podnet` in the machine's own namespace reaches it through a relay listening on a free
// loopback port there (see relay.ts).
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { isRunning, listensOnTcp } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import type { LabPlan } from './plan.js';
import { podnetBin } from './paths.js';
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

export async function startLabEtcd(plan: LabPlan, timeoutMs = 30_000): Promise<LabEtcd> {
  const address = etcdClientAddress(plan);
  const etcd = await startProcess(plan.stateDir, {
    id: 'etcd',
    argv: etcdArgv(plan),
    netns: plan.underlayNetns,
    enter: 'nsenter',
  });
  // The relay's listening socket is made here, in the machine's namespace, on a free port.
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let relay: ProcessRecord;
  try {
    // Node has no public accessor for a server's descriptor; the handle's fd is stable on Linux.
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    relay = await startProcess(plan.stateDir, {
      id: 'etcd-relay',
      argv: [podnetBin(), 'lab', 'relay', '--to', address],
      netns: plan.underlayNetns,
      enter: 'nsenter',
      fds: [fd],
    });
  } finally {
    server.close();
  }
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
