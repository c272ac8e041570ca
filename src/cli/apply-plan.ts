// `podnet apply --plan -f FILE`: what applying a manifest would do, applying nothing. A changed
// ClusterNetwork is planned per host from that host's kernel, with the same plan code its agent
// runs, and checked against what runs now (ranges that would strand pods, an MTU above a host's
// underlay): a change that would cut connectivity is refused here, before any host sees it.
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { mergeForApply } from '../api/merge.js';
import { parseManifests } from '../api/manifest.js';
import type { ClusterNetwork, KubeObject } from '../api/types.js';
import { describeObject } from '../registry/apply.js';
import { connectivityCuts } from '../registry/network-change.js';
import { namespaceOf } from '../registry/namespaces.js';
import { clusterPodMTU } from '../routing/mtu.js';
import { getClusterNetwork, getObject, listObjects } from '../store/objects.js';
import type { Store } from '../store/store.js';
import { UsageError } from '../util/errors.js';
import { labFor, requireRoot } from './context.js';
import { planLines, planNode, type NodePlan } from './plan.js';

type Spec = ClusterNetwork['spec'];

/** The settings a person changes on a live cluster, in the order the summary names them. */
const WATCHED: (keyof Spec)[] = [
  'backend',
  'encryption',
  'mtu',
  'proxyMode',
  'routing',
  'clusterCIDR',
  'clusterCIDRs',
  'serviceCIDR',
  'serviceCIDRs',
  'dnsIP',
  'dnsIPs',
  'nodeSubnetPrefix',
  'nodeSubnetPrefixIPv6',
];

export async function planApply(
  cmd: Command,
  store: Store,
  manifest: { text: string; source: string; namespace?: string },
  file: string,
): Promise<void> {
  const current = await getClusterNetwork(store);
  const { objects } = parseManifests(manifest.text, manifest.source, {
    network: current,
    namespace: manifest.namespace,
  });
  for (const obj of objects) {
    const stored = await getObject(store, obj.kind, namespaceOf(obj), obj.metadata.name);
    if (obj.kind === 'ClusterNetwork') {
      await planNetwork(cmd, store, current, proposedSpec(stored, obj), file);
    } else {
      process.stdout.write(
        `${describeObject(obj)}: would be ${stored ? 'configured' : 'created'}\n`,
      );
    }
  }
}

function proposedSpec(stored: KubeObject | undefined, obj: ClusterNetwork): Spec {
  return stored ? (mergeForApply(stored, obj) as ClusterNetwork).spec : obj.spec;
}

export async function planNetwork(
  cmd: Command,
  store: Store,
  current: Spec,
  proposed: Spec,
  file: string,
): Promise<void> {
  requireRoot('podnet apply --plan of a ClusterNetwork (it reads each host kernel)');
  const changed = WATCHED.filter((k) => JSON.stringify(current[k]) !== JSON.stringify(proposed[k]));
  const summary = changed.map((k) => `${k} ${show(current[k])} -> ${show(proposed[k])}`);
  process.stdout.write(
    `# ClusterNetwork default: ${summary.length ? summary.join(', ') : 'no change to its settings'}\n`,
  );

  const lab = labFor(cmd);
  const [nodes, pods, services] = await Promise.all([
    listObjects(store, 'Node'),
    listObjects(store, 'Pod'),
    listObjects(store, 'Service'),
  ]);
  // Every host's kernel is reachable in a lab; on real hosts only this one's.
  const here = lab ? undefined : hostname();
  const plans: NodePlan[] = [];
  for (const node of nodes.items) {
    const nodeName = node.metadata.name;
    if (here !== undefined && nodeName !== here) continue;
    plans.push(
      await planNode(store, {
        // The routing source is handed over with the same routes: planned from the current one.
        spec: { ...proposed, routing: current.routing },
        nodeName,
        lab,
        backendSource: `ClusterNetwork backend in ${file}`,
      }),
    );
  }
  const cuts = connectivityCuts(current, proposed, {
    nodes: nodes.items,
    pods: pods.items,
    services: services.items,
    underlayMTUs: new Map(plans.map((p) => [p.nodeName, p.plan.view.underlay.mtu])),
  });
  if (cuts.length > 0) {
    throw new UsageError(
      `${cuts.map((c) => `ClusterNetwork default: ${c}`).join('\n')}\nthis change would be refused; nothing was applied`,
    );
  }

  // The agents' own arithmetic: WireGuard costs 80 bytes, not 60, on an IPv6-only cluster.
  const podsBefore = clusterPodMTU(current);
  const podsAfter = clusterPodMTU(proposed);
  for (const plan of plans) {
    process.stdout.write(`${planLines(plan).join('\n')}\n`);
    if (podsAfter !== podsBefore) {
      process.stdout.write(
        `# pod MTU ${podsBefore} -> ${podsAfter}: running pods are resized in place, new ones start with it\n`,
      );
    }
    // The agent writes the new mode's rules, then takes out the old mode's.
    if (proposed.proxyMode !== current.proxyMode) {
      process.stdout.write(
        `# proxyMode ${current.proxyMode} -> ${proposed.proxyMode}: the new mode's service rules go in, then the old mode's come out\n`,
      );
    }
    if (proposed.routing !== current.routing) {
      process.stdout.write(
        `# routing ${current.routing} -> ${proposed.routing}: the agent hands its routes over while running (no route removed)\n`,
      );
    }
  }
  for (const node of nodes.items) {
    if (here === undefined || node.metadata.name === here) continue;
    process.stdout.write(
      `# ${node.metadata.name}: its kernel is on that host; run podnet apply --plan -f ${file} there\n`,
    );
  }
}

function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  return Array.isArray(value) ? value.join(',') : String(value);
}
