// The chaos run's faults to the cluster around the agents, on a ChaosLab: the zone router
// restarted, 20 pods behind the service deleted and made again, a node removed and added, and
// the fabric's BIRD killed and started again. Each gives the traffic's figures over its window
// and what it measured on the side. Used by bench/chaos.ts.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Pod } from '../../src/api/types.js';
import { findProcess } from '../../src/lab/supervisor.js';
import type { ChaosLab } from './chaos-lab.js';
import { faultFigures, type FaultFigures } from './chaos-figures.js';
import { podnet, podnetOk } from './lab.js';
import { waitFor } from './wait.js';

export interface ClusterFault {
  figures: FaultFigures;
  extra: Record<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The router between the zones restarted: it forwards nothing for `ms` and comes back with an
 * empty neighbour table, as a rebooted router does (the zones' bridges, the switches, stay up).
 */
export async function zoneRouterRestarted(chaos: ChaosLab, ms: number): Promise<ClusterFault> {
  const underlay = chaos.lab.underlay.netns;
  const forwarding = (on: boolean): void => {
    execFileSync('ip', [
      'netns',
      'exec',
      underlay,
      'sysctl',
      '-qw',
      `net.ipv4.ip_forward=${on ? 1 : 0}`,
    ]);
  };
  const from = Date.now();
  forwarding(false);
  execFileSync('ip', ['-n', underlay, 'neigh', 'flush', 'all']);
  await sleep(ms);
  forwarding(true);
  const figures = faultFigures(chaos.requests, await chaos.windowFrom(from, Date.now()));
  return { figures, extra: { router_down_ms: ms } };
}

/** `count` more echo pods behind the service, spread over the hosts. */
function extraEchoPods(chaos: ChaosLab, count: number): string {
  // As a service's pods are run in production: ready once the echo listens, and on deletion
  // serving through a preStop sleep while every proxy takes them out.
  const container = [
    'name: main',
    "command: [podnet, serve-echo, --port, '8080']",
    'readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}',
    'lifecycle: {preStop: {sleep: {seconds: 3}}}',
  ].join(', ');
  return Array.from({ length: count }, (_, i) => {
    const node = chaos.lab.hosts[i % chaos.lab.hosts.length]!.name;
    return [
      'apiVersion: v1',
      'kind: Pod',
      `metadata: {name: chaos-extra-${i + 1}, namespace: default, labels: {app: chaos-echo}}`,
      `spec: {nodeName: ${node}, containers: [{${container}}]}`,
    ].join('\n');
  }).join('\n---\n');
}

/** The default namespace's pods whose names start with `prefix`; undefined if unreadable. */
function podsNamed(chaos: ChaosLab, prefix: string): Pod[] | undefined {
  const r = podnet(['--lab', chaos.name, 'get', 'pods', '-n', 'default', '-o', 'json']);
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as { items: Pod[] }).items.filter((p) =>
    p.metadata.name.startsWith(prefix),
  );
}

function readyPods(chaos: ChaosLab, prefix: string): number {
  return (podsNamed(chaos, prefix) ?? []).filter(
    (p) =>
      !p.metadata.deletionTimestamp &&
      (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  ).length;
}

/**
 * `count` echo pods behind the service deleted at once, then made again: the figures while
 * they go and come back, and how long until all were ready again. The pods are made first
 * (outside the window) and removed after it.
 */
export async function podsRecreated(chaos: ChaosLab, count: number): Promise<ClusterFault> {
  const manifest = extraEchoPods(chaos, count);
  const apply = (): string =>
    podnetOk(['--lab', chaos.name, 'apply', '-f', '-'], { input: manifest });
  const allReady = (): boolean => readyPods(chaos, 'chaos-extra-') === count;
  apply();
  await waitFor(`the ${count} extra echo pods to be ready`, allReady, 180_000, 500);
  const from = Date.now();
  podnetOk(['--lab', chaos.name, 'delete', '-f', '-'], { input: manifest });
  // As `kubectl delete` waits: a pod applied while the old one of its name is still terminating
  // would only update the object its node is about to remove.
  await waitFor(
    `the ${count} echo pods to be gone`,
    () => podsNamed(chaos, 'chaos-extra-')?.length === 0,
    120_000,
    200,
  );
  apply();
  await waitFor(`the ${count} echo pods to be ready again`, allReady, 180_000, 200);
  const readyAgainMs = Date.now() - from;
  const figures = faultFigures(chaos.requests, await chaos.windowFrom(from, from));
  podnetOk(['--lab', chaos.name, 'delete', '-f', '-'], { input: manifest });
  return { figures, extra: { pods: count, ready_again_ms: readyAgainMs } };
}

function podCIDROf(chaos: ChaosLab, node: string): string | undefined {
  const r = podnet(['--lab', chaos.name, 'get', 'node', node, '-o', 'json']);
  return r.status === 0
    ? (JSON.parse(r.stdout) as Pod & { spec: { podCIDR?: string } }).spec.podCIDR
    : undefined;
}

/** Whether no host other than `node` has a route to `subnet` any more. */
function routesGone(chaos: ChaosLab, node: string, subnet: string): boolean {
  return chaos.lab.hosts
    .filter((h) => h.name !== node)
    .every(
      (h) =>
        execFileSync('ip', ['-n', h.netns, 'route', 'show', subnet], {
          encoding: 'utf8',
        }).trim() === '',
    );
}

/**
 * A node removed from the cluster (its agent stopped, its Node deleted) until every other host
 * has dropped its routes to the node's pod subnet, then added again (its agent started, which
 * registers it). The figures from the removal, for the removed node's own client and for the
 * others apart (its pods keep running, but no host routes their answers back until it is added
 * again); recovery counts from the agent's start. `same_subnet` is 0 when the node came back with
 * another pod subnet: its lease was lost.
 */
export async function nodeRemovedAndAdded(
  chaos: ChaosLab,
  node: string,
): Promise<[own: ClusterFault, others: ClusterFault]> {
  const subnet = podCIDROf(chaos, node)!;
  const agent = findProcess(chaos.lab.stateDir, `agent-${node}`)!;
  const from = Date.now();
  process.kill(agent.pid, 'SIGKILL');
  await waitFor('the agent to exit', () => !existsSync(`/proc/${agent.pid}`), 10_000);
  podnetOk(['--lab', chaos.name, 'delete', 'node', node]);
  await waitFor(
    `the other hosts to drop routes to ${subnet}`,
    () => routesGone(chaos, node, subnet),
    30_000,
    100,
  );
  const removedMs = Date.now() - from;
  const addedAt = Date.now();
  podnetOk(['lab', 'repair', '--name', chaos.name]);
  await waitFor(
    `${node} to be registered again`,
    () => podCIDROf(chaos, node) !== undefined,
    30_000,
    100,
  );
  const window = await chaos.windowFrom(from, addedAt);
  const extra = { removed_ms: removedMs, same_subnet: podCIDROf(chaos, node) === subnet ? 1 : 0 };
  const own = new Map([...chaos.requests].filter(([h]) => h === node));
  const others = new Map([...chaos.requests].filter(([h]) => h !== node));
  return [
    { figures: faultFigures(own, window), extra },
    { figures: faultFigures(others, window), extra },
  ];
}

/** The fabric's BIRD SIGKILLed and started again at once by `lab repair`, as a supervisor would. */
export async function fabricBirdKilled(chaos: ChaosLab): Promise<ClusterFault> {
  const bird = findProcess(chaos.lab.stateDir, 'fabric-bird')!;
  const from = Date.now();
  process.kill(bird.pid, 'SIGKILL');
  await waitFor('BIRD to exit', () => !existsSync(`/proc/${bird.pid}`), 10_000);
  podnetOk(['lab', 'repair', '--name', chaos.name]);
  const restartedAt = Date.now();
  const figures = faultFigures(chaos.requests, await chaos.windowFrom(from, restartedAt));
  return { figures, extra: { restart_ms: restartedAt - from } };
}
