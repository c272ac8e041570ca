// How traffic between two hosts' pods is carried, in words for the map: the backend's decision
// for that pair (auto: a direct route inside a zone, VXLAN across zones — the lab's and the
// usual layout, where a zone is one underlay subnet), and with BGP routing whether each host
// learnt the other's subnet. `podnet trace` shows what the kernel actually does.
import type { ClusterNetwork } from '../../api/types.js';
import type { NodeBgpStatus } from '../../bgp/status-store.js';
import type { Host } from '../../routing/peers.js';

export interface Carrier {
  label: string;
  /** False when the pair has no way to reach each other's pods. */
  ok: boolean;
}

const BACKEND_WORDS: Record<string, string> = {
  'host-gw': 'direct route',
  vxlan: 'VXLAN',
  ipip: 'IP-in-IP',
  wireguard: 'WireGuard',
};

function backendCarrier(network: ClusterNetwork['spec'], a: Host, b: Host): Carrier {
  // Encryption sends every peer through WireGuard, whatever the backend would do.
  if (network.encryption === 'wireguard') return { label: 'WireGuard', ok: true };
  switch (network.backend) {
    case 'auto':
      return { label: a.zone === b.zone ? 'direct route' : 'VXLAN', ok: true };
    case 'cloud': {
      if (a.cloudRoute === 'refused' || b.cloudRoute === 'refused') {
        return { label: 'no route (cloud route table full)', ok: false };
      }
      if (a.cloudRoute === 'overflow' || b.cloudRoute === 'overflow') {
        return { label: 'VXLAN (cloud overflow)', ok: true };
      }
      if (a.cloudRoute === 'routed' && b.cloudRoute === 'routed') {
        return { label: 'cloud route', ok: true };
      }
      return { label: 'cloud route (pending)', ok: false };
    }
    default:
      return { label: BACKEND_WORDS[network.backend] ?? network.backend, ok: true };
  }
}

function learnt(status: NodeBgpStatus | undefined, subnet: string): boolean {
  return status?.routes?.some((r) => r.prefix === subnet) ?? false;
}

export function linkCarrier(
  network: ClusterNetwork['spec'],
  a: Host,
  b: Host,
  bgp: ReadonlyMap<string, NodeBgpStatus>,
): Carrier {
  const base = backendCarrier(network, a, b);
  if (network.routing !== 'bgp') return base;
  const both = learnt(bgp.get(a.name), b.podCIDR) && learnt(bgp.get(b.name), a.podCIDR);
  return both
    ? { label: `BGP-learned, ${base.label}`, ok: base.ok }
    : { label: `BGP: not learned yet (${base.label})`, ok: false };
}
