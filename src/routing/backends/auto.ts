// auto (the default): per peer, a direct route when the peer is on-link and a tunnel otherwise —
// Calico's CrossSubnet, flannel's DirectRouting. The tunnel is VXLAN unless the ClusterNetwork
// asks for IP-in-IP (autoTunnel), which costs 20 bytes of MTU instead of 50. The tunnel is set
// up even without such peers, so that peers in other zones reach this host whichever peers it
// has itself.
import { hostSysctls, emptyState, type BackendDriver, type BackendInput } from '../desired.js';
import { directRoute, onLink } from './hostgw.js';
import { addIpipPeer, ipipState } from './ipip.js';
import { addVxlanPeer, vxlanDevice } from './vxlan.js';

export const auto: BackendDriver = {
  name: 'auto',
  desired(input) {
    const viaIpip = input.autoTunnel === 'ipip';
    const state = viaIpip ? ipipState(input) : emptyState();
    if (!viaIpip) state.links.push(vxlanDevice(input));
    for (const peer of input.peers) {
      if (onLink(peer, input.underlay)) state.routes.push(directRoute(peer, input.underlay));
      else if (viaIpip) addIpipPeer(state, input, peer);
      else addVxlanPeer(state, peer);
    }
    state.sysctls = hostSysctls(input.underlay, state.links);
    return state;
  },
};

/** Whether `backend` carries pod traffic through IP-in-IP (itself, or auto's tunnel). */
export function usesIpip(backend: string, autoTunnel: BackendInput['autoTunnel']): boolean {
  return backend === 'ipip' || (backend === 'auto' && autoTunnel === 'ipip');
}
