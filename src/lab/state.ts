// lab.json: what a lab is made of, for `lab down`, `lab status`, the pod runner and every
// other verb that finds a cluster through the lab (src/cli/context.ts reads name, storeUrl
// and stateDir).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabApiServer } from './apiserver.js';
import type { EtcdMemberPlan } from './etcd-plan.js';
import type { LabOptions, LabPlan } from './plan.js';

export interface LabHost {
  name: string;
  zone: string;
  /** Underlay address of the host. */
  ip: string;
  netns: string;
  /** The host's underlay interface inside its namespace. */
  interface: string;
  router: string;
  agentSocket: string;
  stateDir: string;
  metricsAddress: string;
}

export interface LabZone {
  zone: string;
  subnet: string;
  router: string;
  bridge: string;
}

export interface LabState {
  name: string;
  /** The store for `podnet` in the machine's own namespace. */
  storeUrl: string;
  /** The store for processes inside the lab (differs from storeUrl with etcd). */
  hostStoreUrl: string;
  /** With store etcd: its members (each is lab process `name`). */
  etcdMembers?: EtcdMemberPlan[];
  /** The Kubernetes API server, once started. */
  apiServer?: LabApiServer;
  /** The live map (`podnet ui`), once started. */
  uiUrl?: string;
  stateDir: string;
  /** `creating` while `lab up` runs, `ready` once every node is Ready. */
  phase: 'creating' | 'ready';
  /** The process that owns the lab (a test run sweeps labs whose owner is gone). */
  ownerPid: number;
  createdAt: string;
  underlay: { netns: string; zones: LabZone[] };
  hosts: LabHost[];
  options: LabOptions;
}

export function labFile(stateDir: string): string {
  return join(stateDir, 'lab.json');
}

export function stateFromPlan(plan: LabPlan, ownerPid: number): LabState {
  return {
    name: plan.name,
    storeUrl: plan.hostStoreUrl,
    hostStoreUrl: plan.hostStoreUrl,
    ...(plan.etcdMembers.length > 0 ? { etcdMembers: plan.etcdMembers } : {}),
    stateDir: plan.stateDir,
    phase: 'creating',
    ownerPid,
    createdAt: new Date().toISOString(),
    underlay: {
      netns: plan.underlayNetns,
      zones: plan.zones.map(({ zone, subnet, router, bridge }) => ({
        zone,
        subnet,
        router,
        bridge,
      })),
    },
    hosts: plan.hosts.map((h) => ({
      name: h.name,
      zone: h.zone,
      ip: h.ip,
      netns: h.netns,
      interface: h.interface,
      router: h.router,
      agentSocket: h.agentSocket,
      stateDir: h.stateDir,
      metricsAddress: h.metricsAddress,
    })),
    options: plan.options,
  };
}

export function writeLabState(state: LabState): void {
  const file = labFile(state.stateDir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readLabState(stateDir: string): LabState | undefined {
  const file = labFile(stateDir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}
