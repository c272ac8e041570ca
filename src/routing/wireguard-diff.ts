// A WireGuard device's keys and peers, desired against what `wg show dump` reports: only the
// peers that differ are set or removed, so every other peer keeps its session (a reconcile,
// or an agent restart, with nothing changed costs no handshake).
import type { ActualWireguard, Change, WireguardLink } from '../kernel/netobjects.js';

export function diffWireguard(link: WireguardLink, have: ActualWireguard | undefined): Change[] {
  const changes: Change[] = [];
  if (have?.publicKey !== link.publicKey || have.listenPort !== link.listenPort) {
    changes.push({
      op: 'wg-device',
      name: link.name,
      privateKeyFile: link.privateKeyFile,
      listenPort: link.listenPort,
    });
  }
  const havePeers = new Map((have?.peers ?? []).map((p) => [p.publicKey, p]));
  const wanted = new Set(link.peers.map((p) => p.publicKey));
  for (const peer of link.peers) {
    const current = havePeers.get(peer.publicKey);
    if (
      !current ||
      current.endpoint !== peer.endpoint ||
      !sameSet(current.allowedIPs, peer.allowedIPs)
    ) {
      changes.push({ op: 'wg-peer-set', name: link.name, peer });
    }
  }
  // After the sets: a peer whose key changed has its allowed IPs moved to the new key first.
  for (const key of havePeers.keys()) {
    if (!wanted.has(key)) changes.push({ op: 'wg-peer-remove', name: link.name, publicKey: key });
  }
  return changes;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
