// What people are shown of a WireGuard device (`podnet plan`, `doctor`): which implementation
// runs it and, per peer, the node it stands for and how long ago it last completed a handshake
// (WireGuard re-handshakes every two minutes while traffic flows; an old or missing handshake
// with a peer that should be talking is the first thing to look at).
import type { Node } from '../api/types.js';
import type { ActualLink } from '../kernel/netobjects.js';
import { hostFromNode } from './peers.js';

export interface WireguardPeerStatus {
  /** The node whose published key this is, or undefined for a key no node publishes. */
  node?: string;
  publicKey: string;
  endpoint: string;
  /** Seconds since the last handshake; undefined: none yet. */
  handshakeAge?: number;
}

export interface WireguardStatus {
  device: string;
  implementation: 'kernel' | 'wireguard-go';
  publicKey?: string;
  peers: WireguardPeerStatus[];
}

/** The status of podnet's WireGuard device among `links`, if there is one. */
export function wireguardStatus(
  links: readonly ActualLink[],
  nodes: readonly Node[],
  nowSeconds: number,
): WireguardStatus | undefined {
  const link = links.find((l) => l.wireguard);
  if (!link?.wireguard) return undefined;
  const byKey = new Map<string, string>();
  for (const node of nodes) {
    const host = hostFromNode(node);
    if (host?.wireguardKey) byKey.set(host.wireguardKey, host.name);
  }
  return {
    device: link.name,
    implementation: link.kind === 'wireguard' ? 'kernel' : 'wireguard-go',
    publicKey: link.wireguard.publicKey,
    peers: link.wireguard.peers.map((p) => ({
      node: byKey.get(p.publicKey),
      publicKey: p.publicKey,
      endpoint: p.endpoint,
      handshakeAge:
        p.latestHandshake > 0 ? Math.max(0, Math.round(nowSeconds - p.latestHandshake)) : undefined,
    })),
  };
}

/** One line per peer, for people. */
export function describeWireguard(status: WireguardStatus): string[] {
  const how = status.implementation === 'kernel' ? "the kernel's" : 'wireguard-go over TUN';
  return [
    `${status.device}: ${how}, ${status.peers.length} peer(s)`,
    ...status.peers.map(
      (p) =>
        `peer ${p.node ?? `unknown key ${p.publicKey}`} at ${p.endpoint || '(no endpoint)'}: ` +
        (p.handshakeAge === undefined ? 'no handshake yet' : `handshake ${p.handshakeAge}s ago`),
    ),
  ];
}
