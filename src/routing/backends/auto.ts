// auto (the default): per peer, a direct route when the peer is on-link and VXLAN otherwise —
// Calico's CrossSubnet, flannel's DirectRouting. The VXLAN device always exists so that peers
// in other zones can reach this host whichever peers it has itself.
import { hostSysctls, emptyState, type BackendDriver } from '../desired.js';
import { directRoute, onLink } from './hostgw.js';
import { addVxlanPeer, vxlanDevice } from './vxlan.js';

export const auto: BackendDriver = {
  name: 'auto',
  desired(input) {
    const state = emptyState();
    state.links.push(vxlanDevice(input));
    for (const peer of input.peers) {
      if (onLink(peer, input.underlay)) state.routes.push(directRoute(peer, input.underlay));
      else addVxlanPeer(state, peer);
    }
    state.sysctls = hostSysctls(input.underlay, state.links);
    return state;
  },
};
