// The cluster as a rendering reads it, indexed once per render: a node's table names every
// selector peer and named port of the policies isolating its pods, and scanning every pod for
// each would make a sync cost pods x policies. Pods are grouped by namespace and namespaces'
// labels read once, so a selector costs the pods of the namespaces it can reach; named ports
// are gathered in one pass. Both renderings (nftables, iptables) read through it.
import { selectorMatches } from '../api/label-selector.js';
import type { NetworkPolicyPeer, NetworkPolicyPort, Pod, Protocol } from '../api/types.js';
import { formatIP } from '../net/index.js';
import { namespaceLabels, type Cluster } from './evaluate.js';
import { podAddresses } from './rules.js';

/** A named port resolved on one pod: its address, protocol and number. */
export interface NamedPortMember {
  ip: string;
  protocol: Protocol;
  port: number;
}

/**
 * Per pod object, what every render reads again: the informer cache hands the same object until
 * the pod changes, so a sync after one relabel parses and formats only that pod anew.
 */
const addressCache = new WeakMap<Pod, string[]>();
const namedPortCache = new WeakMap<Pod, { key: string; member: NamedPortMember }[]>();

function ipv4Of(pod: Pod): string[] {
  let out = addressCache.get(pod);
  if (!out) {
    out = podAddresses(pod)
      .filter((ip) => ip.family === 4)
      .map(formatIP);
    addressCache.set(pod, out);
  }
  return out;
}

/** A pod's named container ports, keyed `PROTOCOL/name`, one member per address. */
function namedPortsOf(pod: Pod): { key: string; member: NamedPortMember }[] {
  let out = namedPortCache.get(pod);
  if (!out) {
    out = [];
    for (const container of pod.spec.containers ?? []) {
      for (const cp of container.ports ?? []) {
        if (!cp.name) continue;
        const protocol = cp.protocol ?? 'TCP';
        for (const ip of ipv4Of(pod))
          out.push({
            key: `${protocol}/${cp.name}`,
            member: { ip, protocol, port: cp.containerPort },
          });
      }
    }
    namedPortCache.set(pod, out);
  }
  return out;
}

export class ClusterIndex {
  private readonly podsByNamespace = new Map<string, Pod[]>();
  private readonly labelsByNamespace = new Map<string, Record<string, string>>();
  private namedPorts: Map<string, NamedPortMember[]> | undefined;

  constructor(private readonly cluster: Cluster) {
    for (const pod of cluster.pods) {
      const ns = pod.metadata.namespace ?? '';
      const list = this.podsByNamespace.get(ns);
      if (list) list.push(pod);
      else this.podsByNamespace.set(ns, [pod]);
    }
    for (const ns of this.podsByNamespace.keys())
      this.labelsByNamespace.set(ns, namespaceLabels(ns, cluster));
  }

  /** A namespace's labels with its automatic name label, as selectors see them. */
  namespaceLabels(namespace: string): Record<string, string> {
    return this.labelsByNamespace.get(namespace) ?? namespaceLabels(namespace, this.cluster);
  }

  /** A pod's IPv4 addresses, as text. */
  ipv4(pod: Pod): string[] {
    return ipv4Of(pod);
  }

  /**
   * The IPv4 addresses of the pods a selector peer stands for (sorted, each once), read as
   * `peerMatches` reads it: a podSelector alone means the policy's own namespace.
   */
  selectorMembers(peer: NetworkPolicyPeer, policyNamespace: string): string[] {
    const namespaces = peer.namespaceSelector
      ? [...this.labelsByNamespace].filter(([, labels]) =>
          selectorMatches(peer.namespaceSelector!, labels),
        )
      : [[policyNamespace]];
    const out = new Set<string>();
    for (const [ns] of namespaces) {
      for (const pod of this.podsByNamespace.get(ns!) ?? []) {
        if (peer.podSelector && !selectorMatches(peer.podSelector, pod.metadata.labels)) continue;
        for (const ip of this.ipv4(pod)) out.add(ip);
      }
    }
    return [...out].sort();
  }

  /** Every pod's container ports named in `named` (with the same protocol). */
  namedPortMembers(named: readonly NetworkPolicyPort[]): NamedPortMember[] {
    const index = (this.namedPorts ??= this.indexNamedPorts());
    const keys = new Set(named.map((n) => `${n.protocol ?? 'TCP'}/${String(n.port)}`));
    return [...keys].flatMap((key) => index.get(key) ?? []);
  }

  private indexNamedPorts(): Map<string, NamedPortMember[]> {
    const index = new Map<string, NamedPortMember[]>();
    for (const pod of this.cluster.pods) {
      for (const { key, member } of namedPortsOf(pod)) {
        const list = index.get(key);
        if (list) list.push(member);
        else index.set(key, [member]);
      }
    }
    return index;
  }
}
