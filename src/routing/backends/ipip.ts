// IP-in-IP, Calico-style: one tunnel device with any remote, and per peer an onlink route via
// the peer's node IP (the kernel uses the gateway as the outer destination). Needs the
// kernel's IPIP module (CONFIG_NET_IPIP); the driver says so and callers check up front.
import type { IpipLink } from '../../kernel/netobjects.js';
import { hostSysctls, emptyState, type BackendDriver, type BackendInput } from '../desired.js';
import { formatIP, networkAddress, parseCidr } from '../../net/index.js';

export const IPIP_DEVICE = 'pn-ipip';
/** The outer IPv4 header. */
export const IPIP_OVERHEAD = 20;

export function ipipDevice({ self, underlay }: BackendInput): IpipLink {
  return {
    kind: 'ipip',
    name: IPIP_DEVICE,
    local: self.ip,
    mtu: underlay.mtu - IPIP_OVERHEAD,
    addresses: [`${subnetAddress(self.podCIDR)}/32`],
  };
}

export const ipip: BackendDriver = {
  name: 'ipip',
  needs: 'ipip',
  desired(input) {
    const state = emptyState();
    state.links.push(ipipDevice(input));
    for (const peer of input.peers) {
      state.routes.push({ dst: peer.podCIDR, gateway: peer.ip, dev: IPIP_DEVICE, onlink: true });
    }
    state.sysctls = hostSysctls(input.underlay, state.links);
    return state;
  },
};

/** The network address of a pod subnet (`10.244.3.0` for `10.244.3.0/24`): the tunnel's own address. */
function subnetAddress(podCIDR: string): string {
  return formatIP(networkAddress(parseCidr(podCIDR, { loose: true })));
}
