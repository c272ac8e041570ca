// host-gw: a plain route to each peer's pod subnet via the peer itself. Fastest, but only
// works when the peer is on the same L2 segment; a peer that is not is reported by name
// rather than handed to the kernel (which would only say "Network is unreachable").
import type { Route, Underlay } from '../../kernel/netobjects.js';
import { hostSysctls, emptyState, type BackendDriver, type PeerProblem } from '../desired.js';
import { containsIP, parseCidr, parseIP, parseStored } from '../../net/index.js';
import type { Host } from '../peers.js';

export function onLink(peer: Host, underlay: Underlay): boolean {
  const segment = parseCidr(`${underlay.address}/${underlay.prefixLength}`, { loose: true });
  return containsIP(segment, parseStored(parseIP, peer.ip, `Node ${peer.name}`, 'InternalIP'));
}

export function directRoute(peer: Host, underlay: Underlay): Route {
  return { dst: peer.podCIDR, gateway: peer.ip, dev: underlay.dev, onlink: false };
}

export function notOnLink(peer: Host, underlay: Underlay): PeerProblem {
  return {
    peer: peer.name,
    reason: `${peer.ip} is not on-link (outside ${underlay.dev}'s ${underlay.address}/${underlay.prefixLength})`,
  };
}

export const hostGw: BackendDriver = {
  name: 'host-gw',
  desired({ peers, underlay }) {
    const state = emptyState();
    for (const peer of peers) {
      if (onLink(peer, underlay)) state.routes.push(directRoute(peer, underlay));
      else state.problems.push(notOnLink(peer, underlay));
    }
    state.sysctls = hostSysctls(underlay, []);
    return state;
  },
};
