// Hosts as routing sees them: the fields of a Node that decide how to reach its pods.
import { nodeInternalIP, nodePodCIDR } from '../api/node-network.js';
import {
  ANNOTATION_CLOUD_ROUTE,
  ANNOTATION_VTEP_MAC,
  ANNOTATION_WIREGUARD_KEY,
  LABEL_ZONE,
  type CloudPlacement,
  type Node,
} from '../api/types.js';
import {
  formatCidr,
  formatIP,
  networkAddress,
  parseCidr,
  tryParseCidr,
  tryParseIP,
} from '../net/index.js';
import { isMac } from './vtep.js';

export interface Host {
  name: string;
  /** The node's pod subnet (spec.podCIDR or podnet's annotation). */
  podCIDR: string;
  /** The node's InternalIP on the underlay. */
  ip: string;
  /** The node's IPv6 pod subnet, on a dual-stack cluster (from spec.podCIDRs). */
  podCIDRIPv6?: string;
  /** The node's IPv6 InternalIP, where its underlay carries IPv6 too. */
  ipv6?: string;
  zone?: string;
  /** The MAC of the node's VXLAN device, as it publishes it. */
  vtepMac?: string;
  /** How the cloud route controller placed the node (backend cloud only). */
  cloudRoute?: CloudPlacement;
  /** The public key of the node's WireGuard device, as it publishes it. */
  wireguardKey?: string;
}

function cloudPlacement(value: string | undefined): CloudPlacement | undefined {
  return value === 'routed' || value === 'overflow' || value === 'refused' ? value : undefined;
}

/**
 * The routing view of a Node, or undefined while it has no pod subnet or InternalIP yet.
 * Values are written the way the kernel prints them, so that comparing needs no parsing.
 */
export function hostFromNode(node: Node): Host | undefined {
  const podCIDR = canonicalCidr(nodePodCIDR(node));
  const ip = nodeInternalIP(node);
  if (!podCIDR || !ip) return undefined;
  const mac = node.metadata.annotations?.[ANNOTATION_VTEP_MAC]?.toLowerCase();
  return {
    name: node.metadata.name,
    podCIDR,
    ip,
    ...ipv6Of(node),
    zone: node.metadata.labels?.[LABEL_ZONE],
    vtepMac: mac && isMac(mac) ? mac : undefined,
    cloudRoute: cloudPlacement(node.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE]),
    wireguardKey: wireguardKeyOf(node),
  };
}

/** The node's IPv6 pod subnet and underlay address, as the kernel prints them. */
function ipv6Of(node: Node): { podCIDRIPv6?: string; ipv6?: string } {
  const subnet = (node.spec.podCIDRs ?? [])
    .map((text) => tryParseCidr(text, { loose: true }))
    .find((c) => c?.family === 6);
  const address = (node.status?.addresses ?? [])
    .filter((a) => a.type === 'InternalIP')
    .map((a) => tryParseIP(a.address))
    .find((ip) => ip?.family === 6);
  return {
    ...(subnet ? { podCIDRIPv6: formatCidr(subnet) } : {}),
    ...(address ? { ipv6: formatIP(address) } : {}),
  };
}

/** A WireGuard key is 32 bytes in base64: 43 characters and one `=`. */
const WIREGUARD_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export function isWireguardKey(text: string): boolean {
  return WIREGUARD_KEY.test(text);
}

function wireguardKeyOf(node: Node): string | undefined {
  const key = node.metadata.annotations?.[ANNOTATION_WIREGUARD_KEY]?.trim();
  return key && isWireguardKey(key) ? key : undefined;
}

function canonicalCidr(cidr: string | undefined): string | undefined {
  const parsed = cidr ? tryParseCidr(cidr, { loose: true }) : undefined;
  return parsed && formatCidr(parsed);
}

/** This node and its peers (every other node that is ready to be routed to), sorted by name. */
export function splitHosts(
  nodes: readonly Node[],
  selfName: string,
): { self?: Host; peers: Host[] } {
  let self: Host | undefined;
  const peers: Host[] = [];
  for (const node of nodes) {
    const host = hostFromNode(node);
    if (!host) continue;
    if (host.name === selfName) self = host;
    else peers.push(host);
  }
  peers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { self, peers };
}

/** A pod subnet's network address: the host's own address on its tunnels and pod side. */
export function subnetAddress(podCIDR: string): string {
  return formatIP(networkAddress(parseCidr(podCIDR, { loose: true })));
}
