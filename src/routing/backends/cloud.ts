// cloud: the cloud's route tables carry each node's pod subnet to that node's interface (the
// route controller writes them), so a host sends pod traffic to its default gateway and needs
// no route of its own for a routed peer. A node past the route quota is placed `overflow`
// (reached over VXLAN, per peer, by everyone) or `refused` (unreachable, said by name).
import { hostSysctls, emptyState, type BackendDriver } from '../desired.js';
import type { Host } from '../peers.js';
import { addVxlanPeer, vxlanDevice } from './vxlan.js';

/** Why this host cannot reach `peer`, or undefined when the pair has a path. */
function unplaced(self: Host, peer: Host): string | undefined {
  for (const host of [self, peer]) {
    const who = host === self ? 'this node' : peer.name;
    if (host.cloudRoute === 'refused') {
      return `${who} has no cloud route: the route table is full (see podnet doctor)`;
    }
    if (host.cloudRoute === undefined) return `${who} has no cloud route yet`;
  }
  return undefined;
}

export const cloud: BackendDriver = {
  name: 'cloud',
  desired(input) {
    const state = emptyState();
    const { self, peers } = input;
    const tunnelled = (peer: Host): boolean =>
      self.cloudRoute === 'overflow' || peer.cloudRoute === 'overflow';
    if (self.cloudRoute === 'overflow' || peers.some((p) => p.cloudRoute === 'overflow')) {
      state.links.push(vxlanDevice(input));
    }
    for (const peer of peers) {
      const problem = unplaced(self, peer);
      if (problem) state.problems.push({ peer: peer.name, reason: problem });
      else if (tunnelled(peer)) addVxlanPeer(state, peer);
    }
    state.sysctls = hostSysctls(input.underlay, state.links);
    return state;
  },
};
