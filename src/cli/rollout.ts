// `podnet apply -f network.yaml --rollout [--batch N] [--canary NODE]`: a changed
// ClusterNetwork reaches the hosts one step at a time. After the plan (and its refusals of
// changes that would cut what runs), the canary host gets the new settings on its Node, its
// agent applies them and says so, and the host is checked: `doctor`, a probe to a pod on every
// other host, and a full-size probe with fragmentation forbidden at the host's new pod MTU.
// Then the other hosts follow in batches, checked alike; the cluster-wide object is written
// last. The first failed check stops the rollout and moves every host it reached back to the
// cluster-wide settings, which were never changed, so the hosts not reached never change.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { mergeForApply } from '../api/merge.js';
import { parseManifests } from '../api/manifest.js';
import {
  ANNOTATION_NETWORK_SETTINGS,
  CLUSTER_GENERATION,
  appliedGeneration,
  effectiveNetwork,
  type NodeSettings,
} from '../api/node-settings.js';
import { nodePodCIDR } from '../api/node-network.js';
import type { ClusterNetwork, Node, Pod } from '../api/types.js';
import { readStatuses } from '../bgp/status-store.js';
import { pingFrom } from '../kernel/probe.js';
import { podNetns } from '../lab/plan.js';
import { addToIP, formatIP, networkAddress, tryParseCidr } from '../net/index.js';
import { applyManifest } from '../registry/apply.js';
import { clusterPodMTU } from '../routing/mtu.js';
import { perHostChange, planRollout } from '../rollout/plan.js';
import { runRollout, type RolloutEffects } from '../rollout/run.js';
import { getClusterNetwork, getObject, listObjects, updateObject } from '../store/objects.js';
import type { Store } from '../store/store.js';
import { OperationError, UsageError } from '../util/errors.js';
import { planNetwork } from './apply-plan.js';
import { labFor } from './context.js';
import { hostVerdicts } from './doctor.js';

type Spec = ClusterNetwork['spec'];

export interface RolloutOptions {
  batch: number;
  canary?: string;
  /** Seconds an agent gets to apply a step (and BGP to learn every peer) before it fails. */
  timeoutSeconds: number;
}

/** How often the agents' acknowledgements are read while waiting for them. */
const POLL_MS = 200;

export async function rolloutApply(
  cmd: Command,
  store: Store,
  manifest: { text: string; source: string; namespace?: string },
  file: string,
  opts: RolloutOptions,
): Promise<void> {
  const current = await getClusterNetwork(store);
  const { objects } = parseManifests(manifest.text, manifest.source, {
    network: current,
    namespace: manifest.namespace,
  });
  const network = objects.find((o): o is ClusterNetwork => o.kind === 'ClusterNetwork');
  if (!network || objects.length !== 1) {
    throw new UsageError(
      `-f ${file}: --rollout applies one ClusterNetwork and nothing else; apply other objects without --rollout`,
    );
  }
  const stored = await getObject(store, 'ClusterNetwork', undefined, network.metadata.name);
  const proposed = stored
    ? (mergeForApply(stored, network) as ClusterNetwork).spec
    : { ...current, ...network.spec };
  // The plan per host, and the refusal of a change that would cut what runs (exit 2).
  await planNetwork(cmd, store, current, proposed, file);

  const settings = perHostChange(current, proposed, `g${Date.now().toString(36)}`);
  const { items: nodes } = await listObjects(store, 'Node');
  const unfinished = nodes.filter((n) => n.metadata.annotations?.[ANNOTATION_NETWORK_SETTINGS]);
  if (unfinished.length > 0) {
    throw new UsageError(
      `node ${unfinished.map((n) => n.metadata.name).join(', ')} still run(s) settings of an unfinished rollout: remove their annotation ${ANNOTATION_NETWORK_SETTINGS} (the agents go back to the cluster-wide settings) and run this again`,
    );
  }
  if (Object.keys(settings).length === 1) {
    // Nothing a host runs apart from the others: one write reaches them all.
    await applyManifest(store, [network], current);
    process.stdout.write('clusternetwork/default configured (no per-host setting changed)\n');
    return;
  }
  let plan;
  try {
    plan = planRollout(
      nodes.map((n) => n.metadata.name),
      settings,
      { batchSize: opts.batch, canary: opts.canary },
    );
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const effects = rolloutEffects(store, {
    lab: labFor(cmd),
    routingChanges: proposed.routing !== current.routing,
    proposed,
    network,
    current,
    timeoutMs: opts.timeoutSeconds * 1000,
  });
  const outcome = await runRollout(plan, effects);
  if (outcome.ok) {
    process.stdout.write(
      `clusternetwork/default rolled out: ${plan.canary} first, then ${plan.batches.length} batch(es)\n`,
    );
    return;
  }
  const after =
    outcome.stranded.length > 0
      ? `these hosts still run the new settings: ${outcome.stranded.join(', ')}`
      : `rolled back ${outcome.rolledBack.join(', ')}; the other hosts and the cluster-wide settings never changed`;
  throw new OperationError(`rollout stopped: ${outcome.reasons.join('; ')}\n${after}`);
}

interface EffectContext {
  lab: string | undefined;
  routingChanges: boolean;
  current: Spec;
  proposed: Spec;
  network: ClusterNetwork;
  timeoutMs: number;
}

function rolloutEffects(store: Store, c: EffectContext): RolloutEffects {
  const progress = (line: string): void => void process.stderr.write(`rollout: ${line}\n`);
  return {
    progress,
    async move(hosts, settings) {
      for (const host of hosts) await giveSettings(store, host, settings);
      await waitApplied(store, hosts, settings?.generation ?? CLUSTER_GENERATION, c.timeoutMs);
    },
    async check(host) {
      if (c.lab) {
        return [
          ...(await doctorProblems(store, host, c)),
          ...(await probeProblems(store, host, c.lab)),
        ];
      }
      // On real hosts only this host's kernel is at hand: others count on their agent's report.
      if (host !== hostname()) {
        progress(`${host}: its agent applied the settings; run podnet doctor there to check it`);
        return [];
      }
      return doctorProblems(store, host, c);
    },
    async finish() {
      if (c.routingChanges && c.proposed.routing === 'bgp') {
        progress('waiting for BGP to learn every host before the cluster-wide write');
        await waitBgpLearnt(store, c.timeoutMs);
      }
      await applyManifest(store, [c.network], c.current);
      const { items } = await listObjects(store, 'Node');
      const hosts = items.map((n) => n.metadata.name);
      for (const host of hosts) await giveSettings(store, host, undefined);
      await waitApplied(store, hosts, CLUSTER_GENERATION, c.timeoutMs);
    },
  };
}

/** Puts `settings` on the host's Node, or takes them off (back to the cluster-wide ones). */
async function giveSettings(
  store: Store,
  host: string,
  settings: NodeSettings | undefined,
): Promise<void> {
  await updateObject(store, 'Node', undefined, host, (node: Node) => {
    const annotations = { ...node.metadata.annotations };
    if (settings) annotations[ANNOTATION_NETWORK_SETTINGS] = JSON.stringify(settings);
    else if (!(ANNOTATION_NETWORK_SETTINGS in annotations)) return undefined;
    else delete annotations[ANNOTATION_NETWORK_SETTINGS];
    node.metadata.annotations = annotations;
    return node;
  });
}

async function waitApplied(
  store: Store,
  hosts: string[],
  generation: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending: string[] = [];
    for (const host of hosts) {
      const node = await getObject(store, 'Node', undefined, host);
      if (appliedGeneration(node) !== generation) pending.push(host);
    }
    if (pending.length === 0) return;
    if (Date.now() > deadline) {
      throw new OperationError(
        `${pending.join(', ')}: the agent did not report settings ${generation} applied within ${timeoutMs / 1000} s`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * The doctor's failures on the host. While the routing source changes, BGP sessions and BGP
 * routes are not judged per host (a host's peers speak BGP only once they are moved too); the
 * cluster-wide write waits for BGP to have learnt every host instead.
 */
async function doctorProblems(store: Store, host: string, c: EffectContext): Promise<string[]> {
  const verdicts = await hostVerdicts(store, host, c.lab);
  return verdicts
    .filter((v) => !v.ok && !(c.routingChanges && v.check.startsWith('bgp-')))
    .map((v) => `doctor ${v.check}: ${v.detail}`);
}

/**
 * From a pod on `host`: an echo to a pod on every other host, and one packet of the host's pod
 * MTU with fragmentation forbidden to that host's pod gateway (the first address of its pod
 * subnet, carried by its pod veths). The gateway, not the pod, takes the full-size probe: a
 * pod on a host not moved yet still has the old, smaller MTU on its own link.
 */
async function probeProblems(store: Store, host: string, lab: string): Promise<string[]> {
  const [{ items: nodes }, { items: pods }, cluster] = await Promise.all([
    listObjects(store, 'Node'),
    listObjects(store, 'Pod'),
    getClusterNetwork(store),
  ]);
  const self = nodes.find((n) => n.metadata.name === host);
  const source = runningPodOn(pods, host);
  if (!self || !source) return [];
  const spec = effectiveNetwork(cluster, self);
  const mtu = clusterPodMTU(spec);
  const netns = podNetns(lab, host, source.metadata.namespace ?? 'default', source.metadata.name);
  const problems: string[] = [];
  for (const peer of nodes) {
    const name = peer.metadata.name;
    if (name === host) continue;
    const target = runningPodOn(pods, name);
    if (target?.status?.podIP) {
      const echo = await pingFrom(netns, target.status.podIP);
      if (!echo.ok)
        problems.push(
          `pod ${target.metadata.name} on ${name} (${target.status.podIP}) does not answer`,
        );
    }
    const gateway = podGateway(peer);
    if (!gateway) continue;
    const full = await pingFrom(netns, gateway, { packetBytes: mtu });
    if (!full.ok) {
      problems.push(
        `a ${mtu}-byte packet with fragmentation forbidden (the pod MTU) does not reach ${name} (${gateway}): the path between the hosts carries less`,
      );
    }
  }
  return problems;
}

function runningPodOn(pods: readonly Pod[], host: string): Pod | undefined {
  return pods.find(
    (p) =>
      p.spec.nodeName === host && p.status?.phase === 'Running' && p.status.podIP !== undefined,
  );
}

function podGateway(node: Node): string | undefined {
  const text = nodePodCIDR(node);
  const cidr = text ? tryParseCidr(text) : undefined;
  return cidr && cidr.family === 4 ? formatIP(addToIP(networkAddress(cidr), 1)) : undefined;
}

/** Waits until every host's BGP has handed its routing a route to every other host's subnet. */
async function waitBgpLearnt(store: Store, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { items: nodes } = await listObjects(store, 'Node');
    const statuses = await readStatuses(store);
    const missing = nodes.flatMap((n) => {
      const routes = new Set(
        statuses.find((s) => s.node === n.metadata.name)?.routes?.map((r) => r.prefix),
      );
      const lacking = nodes.filter(
        (p) => p !== n && nodePodCIDR(p) !== undefined && !routes.has(nodePodCIDR(p)!),
      );
      return lacking.length > 0
        ? [`${n.metadata.name} lacks ${lacking.map((p) => p.metadata.name).join(', ')}`]
        : [];
    });
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      throw new OperationError(
        `BGP has not learnt every host within ${timeoutMs / 1000} s: ${missing.join('; ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS * 5));
  }
}
