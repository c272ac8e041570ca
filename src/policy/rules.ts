// Whether one NetworkPolicy rule admits one connection: its peers (who is at the other end)
// and its ports (what is asked for at the destination), with upstream's reading of each field.
import { selectorMatches } from '../api/label-selector.js';
import type {
  NetworkPolicy,
  NetworkPolicyPeer,
  NetworkPolicyPort,
  Pod,
  PolicyType,
  Protocol,
} from '../api/types.js';
import { containsIP, tryParseCidr, tryParseIP, type IP } from '../net/index.js';

/** The far end of a rule: a pod (with its namespace's labels) or an address no pod holds. */
export type Peer = { pod: Pod; namespaceLabels: Record<string, string> } | { ip: IP };

/** The destination of the connection after DNAT: the address, and the pod when it is one. */
export interface Destination {
  pod?: Pod;
  protocol: Protocol;
  port: number;
}

/** A pod's own addresses (podIPs, or podIP when that is all it has). */
export function podAddresses(pod: Pod): IP[] {
  const texts = pod.status?.podIPs?.map((p) => p.ip) ?? [pod.status?.podIP];
  return texts.flatMap((t) => {
    const ip = t === undefined ? undefined : tryParseIP(t);
    return ip ? [ip] : [];
  });
}

/** The addresses a peer stands for: a pod's own, or the one address. */
function peerAddresses(peer: Peer): IP[] {
  return 'ip' in peer ? [peer.ip] : podAddresses(peer.pod);
}

/**
 * ipBlock is documented for cluster-external addresses, but the upstream e2e suite allows
 * egress to a pod's own /32, so pod addresses match it too. An except narrows only this peer.
 */
function inIPBlock(block: NonNullable<NetworkPolicyPeer['ipBlock']>, ips: IP[]): boolean {
  const cidr = tryParseCidr(block.cidr, { loose: true });
  if (!cidr) return false;
  const excepts = (block.except ?? []).flatMap((t) => {
    const c = tryParseCidr(t, { loose: true });
    return c ? [c] : [];
  });
  return ips.some((ip) => containsIP(cidr, ip) && !excepts.some((e) => containsIP(e, ip)));
}

/** One entry of `from`/`to`, read in the namespace of the policy that holds it. */
export function peerMatches(spec: NetworkPolicyPeer, policyNamespace: string, peer: Peer): boolean {
  if (spec.ipBlock) return inIPBlock(spec.ipBlock, peerAddresses(peer));
  if (!('pod' in peer)) return false;
  const podNamespace = peer.pod.metadata.namespace;
  // A podSelector alone means pods of the policy's own namespace.
  const namespaceOk = spec.namespaceSelector
    ? selectorMatches(spec.namespaceSelector, peer.namespaceLabels)
    : podNamespace === policyNamespace;
  const podOk = spec.podSelector
    ? selectorMatches(spec.podSelector, peer.pod.metadata.labels)
    : true;
  return namespaceOk && podOk;
}

/**
 * A named port is a container port of the destination pod (the selected pod for ingress, the
 * peer for egress), with the rule's protocol; it cannot match an address that is not a pod.
 */
function namedPort(pod: Pod | undefined, name: string, protocol: Protocol): number | undefined {
  for (const container of pod?.spec.containers ?? []) {
    for (const p of container.ports ?? []) {
      if (p.name === name && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
    }
  }
  return undefined;
}

export function portMatches(spec: NetworkPolicyPort, dst: Destination): boolean {
  if ((spec.protocol ?? 'TCP') !== dst.protocol) return false;
  if (spec.port === undefined) return true;
  if (typeof spec.port === 'string') {
    return namedPort(dst.pod, spec.port, dst.protocol) === dst.port;
  }
  return dst.port >= spec.port && dst.port <= (spec.endPort ?? spec.port);
}

/** A policy's rules in one direction, its peers (`from` or `to`) and ports, absent as empty. */
export function directionRules(
  policy: NetworkPolicy,
  direction: PolicyType,
): { peers: NetworkPolicyPeer[]; ports: NetworkPolicyPort[] }[] {
  return direction === 'Ingress'
    ? (policy.spec.ingress ?? []).map((r) => ({ peers: r.from ?? [], ports: r.ports ?? [] }))
    : (policy.spec.egress ?? []).map((r) => ({ peers: r.to ?? [], ports: r.ports ?? [] }));
}

/** A rule admits when some peer and some port match; a missing or empty list matches all. */
export function ruleAdmits(
  rule: { peers?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] },
  policy: NetworkPolicy,
  peer: Peer,
  dst: Destination,
): boolean {
  const peers = rule.peers ?? [];
  const ports = rule.ports ?? [];
  const namespace = policy.metadata.namespace ?? '';
  return (
    (peers.length === 0 || peers.some((p) => peerMatches(p, namespace, peer))) &&
    (ports.length === 0 || ports.some((p) => portMatches(p, dst)))
  );
}
