// The proxy of a running agent checked against the fakes (integration tests, as root): the
// service ports are derived from the store the way the agent derives them, a fresh proxier
// programs them into fakes, and the fakes must equal what the agent left in its host's kernel
// (fake-drift.ts). The agent has caught up once its processed-revision metric covers a mark
// written after everything else, so the comparison never races a sync still under way.
import { execFileSync } from 'node:child_process';
import { currentServicePorts } from '../../src/agent/proxy.js';
import type { Kind, ProxyMode } from '../../src/api/types.js';
import type { ProxyNetwork } from '../../src/proxy/model.js';
import {
  getClusterNetwork,
  getObject,
  listObjects,
  updateObject,
} from '../../src/store/objects.js';
import type { Store } from '../../src/store/store.js';
import { assertProxyRulesMatchKernel } from './fake-drift.js';

/** An agent as a test sees it: its node, its host namespace and its metrics address. */
export interface RunningAgent {
  node: string;
  ns: string;
  metrics: string;
}

/** An existing object whose annotation a mark may change (no rule depends on annotations). */
export interface MarkTarget {
  kind: Kind;
  namespace?: string;
  name: string;
}

const MARK = 'podnet.io/test-mark';

/** Changes `target`'s mark annotation; returns the revision of that change. */
async function writeMark(store: Store, target: MarkTarget): Promise<number> {
  const marked = await updateObject(store, target.kind, target.namespace, target.name, (o) => {
    o.metadata.annotations = { ...o.metadata.annotations, [MARK]: String(Date.now()) };
    return o;
  });
  if (!marked) throw new Error(`no ${target.kind} ${target.name} to mark`);
  return Number(marked.metadata.resourceVersion);
}

/** The store revision up to which every handler of the agent has processed `kind`. */
function processedRevision(agent: RunningAgent, kind: Kind): number {
  const text = execFileSync(
    'ip',
    ['netns', 'exec', agent.ns, 'curl', '-s', `http://${agent.metrics}/metrics`],
    { encoding: 'utf8' },
  );
  const m = new RegExp(`^podnet_informer_processed_revision\\{kind="${kind}"\\} (\\d+)`, 'm').exec(
    text,
  );
  return m ? Number(m[1]) : 0;
}

/**
 * Marks each target, then waits until every agent has processed each target's kind up to its
 * mark: informers finish changes in revision order, so all earlier changes of that kind
 * (deletes included) are then in the agent's kernel.
 */
export async function agentsCaughtUp(
  store: Store,
  agents: RunningAgent[],
  targets: MarkTarget[],
  timeoutMs = 20_000,
): Promise<void> {
  const marks = await Promise.all(targets.map(async (t) => [t.kind, await writeMark(store, t)]));
  const deadline = Date.now() + timeoutMs;
  for (const agent of agents) {
    for (const [kind, revision] of marks as [Kind, number][]) {
      while (processedRevision(agent, kind) < revision) {
        if (Date.now() > deadline) {
          throw new Error(`agent ${agent.node} never processed ${kind} revision ${revision}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/** The network the agent's proxier of `node` is given (ClusterNetwork and the node's subnet). */
async function proxyNetwork(store: Store, node: string): Promise<ProxyNetwork> {
  const cluster = await getClusterNetwork(store);
  const nodeObject = await getObject(store, 'Node', undefined, node);
  return {
    clusterCIDR: cluster.clusterCIDR,
    serviceCIDR: cluster.serviceCIDR,
    nodePodCIDR: nodeObject?.spec.podCIDR,
  };
}

/** The newest revision among the stored EndpointSlices (0 when there are none). */
async function newestSlice(store: Store): Promise<number> {
  const { items } = await listObjects(store, 'EndpointSlice');
  return Math.max(0, ...items.map((o) => Number(o.metadata.resourceVersion)));
}

/**
 * Slices are written by the endpoint-slice controller after the pods change, so a mark on a Pod
 * does not cover them: wait until the newest slice stays the newest for a moment and the agent
 * has processed it.
 */
async function slicesSettled(store: Store, agent: RunningAgent, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const newest = await newestSlice(store);
    if (newest === last && processedRevision(agent, 'EndpointSlice') >= newest) return;
    if (Date.now() > deadline) {
      throw new Error(`agent ${agent.node} never processed EndpointSlice revision ${newest}`);
    }
    last = newest;
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * The rules in `agent`'s host kernel are those the store's services and pods call for. An
 * agent that has stopped is not waited for (it serves no metrics): the rules it left must
 * still be those.
 */
export async function assertAgentProxyMatchesKernel(
  store: Store,
  agent: RunningAgent,
  mode: ProxyMode,
  opts: { stopped?: boolean } = {},
): Promise<void> {
  if (!opts.stopped) await slicesSettled(store, agent);
  const [services, slices] = await Promise.all([
    listObjects(store, 'Service'),
    listObjects(store, 'EndpointSlice'),
  ]);
  const rules = currentServicePorts(services.items, slices.items);
  await assertProxyRulesMatchKernel(mode, await proxyNetwork(store, agent.node), rules, agent.ns);
}
