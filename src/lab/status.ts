// `podnet lab status`: what a lab has, read from lab.json, the process records and the kernel.
import { readdirSync } from 'node:fs';
import { listNetns } from '../kernel/netns.js';
import { isRunning } from '../process/daemons.js';
import { labStateDir, ownsNetns } from './plan.js';
import { readLabState, type LabHost, type LabState } from './state.js';
import { listProcesses } from './supervisor.js';
import { listPodRecords } from './pods.js';
import { openStore } from '../store/open.js';
import { listObjects } from '../store/objects.js';

export interface LabStatus {
  name: string;
  phase: LabState['phase'];
  storeUrl: string;
  /** The Kubernetes API server: its URL from this machine and over the underlay, the kubeconfig. */
  apiServer?: LabState['apiServer'];
  uiUrl?: string;
  stateDir: string;
  ownerPid: number;
  options: LabState['options'];
  zones: LabState['underlay']['zones'];
  hosts: (LabHost & { netnsPresent: boolean })[];
  /** Pods the pod runners made (from their records). */
  pods: { namespace: string; name: string; node: string; podIP?: string; netns: string }[];
  /** Pod namespaces present on the kernel. */
  podNamespaces: string[];
  processes: { id: string; pid: number; running: boolean; netns?: string; log: string }[];
  /** Each Node's Ready condition as the cluster reports it (absent when the store is unreadable). */
  nodes?: { name: string; ready: string; reason?: string; message?: string }[];
  /** What is wrong: dead processes, nodes not Ready; empty when the lab is healthy. */
  problems: string[];
}

/** What `lab status` must not call ready: lab processes that exited, nodes that are not Ready. */
export function labProblems(
  processes: LabStatus['processes'],
  nodes: LabStatus['nodes'],
  labName: string,
): string[] {
  const problems: string[] = [];
  const dead = processes.filter((p) => !p.running && !p.id.startsWith('pod-')).map((p) => p.id);
  if (dead.length > 0) {
    problems.push(
      `exited: ${dead.join(', ')} (start them again with 'podnet lab repair --name ${labName}')`,
    );
  }
  for (const n of nodes ?? []) {
    if (n.ready === 'True') continue;
    const why = [n.reason, n.message].filter((w) => w).join(': ');
    problems.push(`node ${n.name} is Ready=${n.ready}${why ? ` (${why})` : ''}`);
  }
  return problems;
}

/** Each Node's Ready condition, from the lab's store. */
async function nodeReadiness(storeUrl: string): Promise<LabStatus['nodes']> {
  let store;
  try {
    store = await openStore(storeUrl);
  } catch {
    return undefined;
  }
  try {
    // A dead etcd must not hang `lab status`: it is one of the things it reports.
    const listed = await Promise.race([
      listObjects(store, 'Node'),
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 3000).unref()),
    ]);
    if (!listed) return undefined;
    const { items } = listed;
    return items.map((n) => {
      const c = n.status?.conditions?.find((x) => x.type === 'Ready');
      return {
        name: n.metadata.name,
        ready: c?.status ?? 'Unknown',
        ...(c?.reason ? { reason: c.reason } : {}),
        ...(c?.message ? { message: c.message } : {}),
      };
    });
  } catch {
    return undefined;
  } finally {
    await store.close();
  }
}

export function labNames(labsDir: string): string[] {
  try {
    return readdirSync(labsDir)
      .filter((n) => readLabState(labStateDir(labsDir, n)))
      .sort();
  } catch {
    return [];
  }
}

export async function labStatus(labsDir: string, name: string): Promise<LabStatus | undefined> {
  const stateDir = labStateDir(labsDir, name);
  const state = readLabState(stateDir);
  if (!state) return undefined;
  const namespaces = new Set((await listNetns()).filter((n) => ownsNetns(name, n)));
  const hostNs = new Set(state.hosts.map((h) => h.netns));
  const processes = listProcesses(stateDir).map((p) => ({
    id: p.id,
    pid: p.pid,
    running: isRunning(p),
    ...(p.netns ? { netns: p.netns } : {}),
    log: p.log,
  }));
  const nodes = await nodeReadiness(state.storeUrl);
  return {
    name: state.name,
    phase: state.phase,
    storeUrl: state.storeUrl,
    ...(state.apiServer ? { apiServer: state.apiServer } : {}),
    ...(state.uiUrl ? { uiUrl: state.uiUrl } : {}),
    stateDir: state.stateDir,
    ownerPid: state.ownerPid,
    options: state.options,
    zones: state.underlay.zones,
    hosts: state.hosts.map((h) => ({ ...h, netnsPresent: namespaces.has(h.netns) })),
    pods: listPodRecords(stateDir).map((r) => ({
      namespace: r.namespace,
      name: r.name,
      node: r.node,
      ...(r.podIP ? { podIP: r.podIP } : {}),
      netns: r.netns,
    })),
    podNamespaces: [...namespaces]
      .filter((n) => !hostNs.has(n) && n !== state.underlay.netns)
      .sort(),
    processes,
    ...(nodes ? { nodes } : {}),
    problems: labProblems(processes, nodes, state.name),
  };
}

/** Human table: hosts, then processes. */
export function formatStatus(s: LabStatus): string {
  const phase = s.phase === 'ready' && s.problems.length > 0 ? 'degraded' : s.phase;
  const lines = [
    `lab ${s.name}: ${phase}, ${s.hosts.length} hosts in ${s.zones.length} zones, store ${s.storeUrl}`,
    `options: backend=${s.options.backend} proxy=${s.options.proxy} store=${s.options.store} routing=${s.options.routing} fabric=${s.options.fabric}`,
    ...(s.apiServer
      ? [
          `api server: ${s.apiServer.url} (hosts: ${s.apiServer.hostUrl}), kubeconfig ${s.apiServer.kubeconfig}`,
        ]
      : []),
    ...(s.uiUrl ? [`map: ${s.uiUrl}`] : []),
    ...s.problems.map((p) => `problem: ${p}`),
    '',
    ...table(
      ['HOST', 'ZONE', 'ADDRESS', 'ROUTER', 'NETNS'],
      s.hosts.map((h) => [
        h.name,
        h.zone,
        h.ip,
        h.router,
        h.netnsPresent ? h.netns : `${h.netns} (missing)`,
      ]),
    ),
    '',
    ...(s.nodes
      ? [
          ...table(
            ['NODE', 'READY', 'REASON'],
            s.nodes.map((n) => [n.name, n.ready, n.reason ?? '-']),
          ),
          '',
        ]
      : []),
    ...table(
      ['PROCESS', 'PID', 'STATE', 'NETNS'],
      s.processes.map((p) => [
        p.id,
        String(p.pid),
        p.running ? 'running' : 'exited',
        p.netns ?? '-',
      ]),
    ),
  ];
  if (s.pods.length > 0) {
    lines.push(
      '',
      ...table(
        ['POD', 'NODE', 'IP', 'NETNS'],
        s.pods.map((p) => [`${p.namespace}/${p.name}`, p.node, p.podIP ?? '-', p.netns]),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
