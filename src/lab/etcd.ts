// `lab up --store etcd`: the etcd cluster runs in the underlay namespace, its members on zone
// 1's router address and the ones below it, so agents, pod runners and pods reach it over the
// lab's network as they would on real hosts, and a member can die without the store going.
// `podnet` in the machine's own namespace reaches every member through one relay listening on
// free loopback ports there (see relay.ts). With --tls, etcd speaks TLS to clients and peers
// and takes only clients with a certificate of the lab's CA (etcd-pki.ts).
import { join } from 'node:path';
import { isRunning, listensOnTcp } from '../process/daemons.js';
import { OperationError } from '../util/errors.js';
import { etcdMemberArgv, etcdPkiPaths, etcdStoreUrl } from './etcd-plan.js';
import { makeEtcdPki } from './etcd-pki.js';
import type { LabPlan } from './plan.js';
import { startLoopbackRelays } from './relay-process.js';
import { startProcess, type ProcessRecord } from './supervisor.js';
import { pollUntil } from './wait.js';

export interface LabEtcd {
  /** For `podnet` in the machine's namespace (through the relay). */
  storeUrl: string;
  /** For everything inside the lab. */
  hostStoreUrl: string;
  processes: ProcessRecord[];
}

/** The relay's supervisor id: it is started again on the same ports (repair.ts), not from its record. */
export const ETCD_RELAY = 'etcd-relay';

export async function startLabEtcd(plan: LabPlan, timeoutMs = 30_000): Promise<LabEtcd> {
  const pki = plan.options.etcdTls ? etcdPkiPaths(plan.stateDir) : undefined;
  if (pki) await makeEtcdPki(pki, plan.etcdMembers);
  // Unique per lab, so that members of another lab's cluster never join this one.
  const token = `${plan.name}-${Date.now()}`;
  const members = await Promise.all(
    plan.etcdMembers.map((m) =>
      startProcess(plan.stateDir, {
        id: m.name,
        argv: etcdMemberArgv(m, plan.etcdMembers, join(plan.stateDir, 'etcd', m.name), token, pki),
        netns: plan.underlayNetns,
        enter: 'nsenter',
      }),
    ),
  );
  const endpoints = plan.etcdMembers.map((m) => m.endpoint);
  const { relay, ports } = await startLoopbackRelays(
    plan.stateDir,
    ETCD_RELAY,
    plan.underlayNetns,
    endpoints,
  );
  const up = await pollUntil(() => {
    for (const etcd of members) {
      if (!isRunning(etcd)) throw new OperationError(`etcd exited (log: ${etcd.log})`);
    }
    return members.every((etcd, i) => listensOnTcp(etcd.pid, endpoints[i]!)) ? true : undefined;
  }, timeoutMs);
  if (!up) {
    throw new OperationError(`etcd not serving ${endpoints.join(', ')} after ${timeoutMs / 1000}s`);
  }
  return {
    storeUrl: etcdStoreUrl(
      ports.map((p) => `127.0.0.1:${p}`),
      pki,
    ),
    hostStoreUrl: plan.hostStoreUrl,
    processes: [...members, relay],
  };
}
