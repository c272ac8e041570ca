// Changes to the ClusterNetwork that would cut connectivity running now, found before anything
// is written: a pod network that no longer holds running pods or leased node subnets, a node
// subnet size changed under nodes that hold subnets, a service network that no longer holds
// the services' cluster IPs, an MTU above a host's underlay. Agents would apply any of these
// faithfully and cut the traffic themselves, so the only safe place to stop them is here.
import {
  clusterCIDRsOf,
  nodeSubnetPrefixOf,
  parsedCIDRs,
  serviceCIDRsOf,
} from '../api/cluster-families.js';
import type { ClusterNetwork, Node, Pod, Service } from '../api/types.js';
import { containsCidr, containsIP, tryParseCidr, tryParseIP, type Cidr } from '../net/index.js';

type Spec = ClusterNetwork['spec'];

export interface RunningNetwork {
  nodes: readonly Node[];
  pods: readonly Pod[];
  services: readonly Service[];
  /** The MTU of each host's underlay device, where it was read (host name → MTU). */
  underlayMTUs?: ReadonlyMap<string, number>;
}

/** How many objects a reason names before it says "and N more". */
const NAMED = 3;

/** One line per way `proposed` would cut what runs under `current`; empty when it cuts nothing. */
export function connectivityCuts(current: Spec, proposed: Spec, running: RunningNetwork): string[] {
  const cuts: string[] = [];
  const podNetworks = parsedCIDRs(clusterCIDRsOf(proposed));
  const serviceNetworks = parsedCIDRs(serviceCIDRsOf(proposed));

  const strandedPods = running.pods.flatMap((pod) =>
    podAddresses(pod)
      .filter((ip) => !inAny(podNetworks, ip))
      .map((ip) => `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name} (${ip})`),
  );
  if (strandedPods.length > 0) {
    cuts.push(
      `clusterCIDRs ${clusterCIDRsOf(proposed).join(', ')} would no longer hold running pod ${named(strandedPods)}: delete those pods first, or keep their range in the list`,
    );
  }

  const strandedSubnets = running.nodes.flatMap((node) =>
    nodeSubnets(node)
      .filter((s) => !podNetworks.some((c) => containsCidr(c, s.cidr)))
      .map((s) => `${node.metadata.name} (${s.text})`),
  );
  if (strandedSubnets.length > 0) {
    cuts.push(
      `clusterCIDRs ${clusterCIDRsOf(proposed).join(', ')} would no longer hold the subnet of node ${named(strandedSubnets)}: keep the range the nodes lease from`,
    );
  }

  for (const family of [4, 6] as const) {
    const before = nodeSubnetPrefixOf(current, family);
    const after = nodeSubnetPrefixOf(proposed, family);
    if (before === after) continue;
    const holders = running.nodes.filter((n) =>
      nodeSubnets(n).some((s) => s.cidr.family === family),
    );
    if (holders.length === 0) continue;
    const field = family === 4 ? 'nodeSubnetPrefix' : 'nodeSubnetPrefixIPv6';
    cuts.push(
      `${field} ${before} -> ${after}: node ${named(holders.map((n) => n.metadata.name))} hold /${before} subnets, and a node's subnet cannot change under its pods; keep ${before}`,
    );
  }

  const strandedServices = running.services.flatMap((svc) =>
    clusterIPs(svc)
      .filter((ip) => !inAny(serviceNetworks, ip))
      .map((ip) => `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name} (${ip})`),
  );
  if (strandedServices.length > 0) {
    cuts.push(
      `serviceCIDRs ${serviceCIDRsOf(proposed).join(', ')} would no longer hold the cluster IP of service ${named(strandedServices)}: keep their range`,
    );
  }

  const tooSmall = [...(running.underlayMTUs ?? [])]
    .filter(([, mtu]) => proposed.mtu > mtu)
    .map(([host, mtu]) => `${host} (${mtu})`);
  if (proposed.mtu !== current.mtu && tooSmall.length > 0) {
    cuts.push(
      `mtu ${proposed.mtu} is above the underlay MTU of ${named(tooSmall)}: full-size packets would be dropped on the wire; use at most the smallest underlay MTU`,
    );
  }
  return cuts;
}

function named(items: readonly string[]): string {
  const shown = items.slice(0, NAMED).join(', ');
  return items.length > NAMED ? `${shown} and ${items.length - NAMED} more` : shown;
}

function inAny(cidrs: readonly Cidr[], text: string): boolean {
  const ip = tryParseIP(text);
  return ip !== undefined && cidrs.some((c) => containsIP(c, ip));
}

/** A pod's addresses while it holds them: not once it has finished. */
function podAddresses(pod: Pod): string[] {
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return [];
  const listed = pod.status?.podIPs?.map((p) => p.ip) ?? [];
  if (listed.length > 0) return listed;
  return pod.status?.podIP ? [pod.status.podIP] : [];
}

function nodeSubnets(node: Node): { text: string; cidr: Cidr }[] {
  const texts = node.spec.podCIDRs ?? (node.spec.podCIDR ? [node.spec.podCIDR] : []);
  return texts.flatMap((text) => {
    const cidr = tryParseCidr(text);
    return cidr ? [{ text, cidr }] : [];
  });
}

function clusterIPs(svc: Service): string[] {
  const ips = svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : []);
  return ips.filter((ip) => ip !== 'None');
}
