// The pod-to-pod path of a backend built by hand with bare `ip` commands, beside podnet's in the
// same hosts: one more pod per host on a veth pair (/32 on each end, as ptp wires it), /32
// routes, forwarding, and to the peer either a route via its address (host-gw) or a VXLAN device
// made by hand with a static neighbour and FDB entry (flannel's design). Its addresses
// (10.250.<host>.0/24) and its tunnel (VNI 2, port 4789) are apart from podnet's, so podnet's
// reconcile leaves it alone and the two can be measured in turn.
import { sh, type TestHost } from '../../test/helpers/routing-topology.js';
import { uniqueName, deleteNamespace } from '../../test/helpers/names.js';

export interface BarePod {
  ns: string;
  ip: string;
}

const BARE_VETH = 'bare0';
const BARE_VXLAN = 'bare-vxlan';

function subnet(i: number): string {
  return `10.250.${i + 1}`;
}

/** One pod per host on a hand-made veth, the host forwarding; returns the pods by host index. */
export function addBarePods(hosts: readonly TestHost[], mtu: number): BarePod[] {
  return hosts.map((h, i) => {
    const ns = uniqueName(`b${i + 1}`);
    sh(`ip netns add ${ns}`);
    const pod = { ns, ip: `${subnet(i)}.2` };
    const gw = `${subnet(i)}.1`;
    sh(`ip -n ${h.ns} link add ${BARE_VETH} mtu ${mtu} type veth peer name eth0 netns ${ns}`);
    sh(`ip -n ${h.ns} addr add ${gw}/32 dev ${BARE_VETH}`);
    sh(`ip -n ${h.ns} link set ${BARE_VETH} up`);
    sh(`ip -n ${h.ns} route add ${pod.ip}/32 dev ${BARE_VETH}`);
    sh(`ip netns exec ${h.ns} sysctl -qw net.ipv4.ip_forward=1`);
    sh(`ip -n ${ns} link set lo up`);
    sh(`ip -n ${ns} addr add ${pod.ip}/32 dev eth0`);
    sh(`ip -n ${ns} link set eth0 mtu ${mtu} up`);
    sh(`ip -n ${ns} route add default via ${gw} dev eth0 onlink`);
    return pod;
  });
}

export function removeBarePods(hosts: readonly TestHost[], pods: readonly BarePod[]): void {
  for (const h of hosts) sh(`ip -n ${h.ns} link del ${BARE_VETH} 2>/dev/null || true`);
  for (const p of pods) deleteNamespace(p.ns);
}

/** Routes between the bare pods' subnets for `backend`; returns what undoes them. */
export function wireBarePeers(
  hosts: readonly TestHost[],
  backend: 'host-gw' | 'vxlan',
): () => void {
  const undo: string[] = [];
  hosts.forEach((h, i) => {
    if (backend === 'vxlan') {
      const mac = `02:00:00:00:ba:${(i + 1).toString(16).padStart(2, '0')}`;
      sh(
        `ip -n ${h.ns} link add ${BARE_VXLAN} address ${mac} type vxlan id 2 dstport 4789 local ${h.ip} dev eth0 nolearning`,
      );
      sh(`ip -n ${h.ns} addr add ${subnet(i)}.0/32 dev ${BARE_VXLAN}`);
      sh(`ip -n ${h.ns} link set ${BARE_VXLAN} up`);
      undo.push(`ip -n ${h.ns} link del ${BARE_VXLAN}`);
    }
  });
  hosts.forEach((h, i) => {
    hosts.forEach((peer, j) => {
      if (i === j) return;
      if (backend === 'host-gw') {
        sh(`ip -n ${h.ns} route add ${subnet(j)}.0/24 via ${peer.ip}`);
        undo.push(`ip -n ${h.ns} route del ${subnet(j)}.0/24`);
        return;
      }
      const mac = `02:00:00:00:ba:${(j + 1).toString(16).padStart(2, '0')}`;
      sh(`ip -n ${h.ns} neigh add ${subnet(j)}.0 lladdr ${mac} dev ${BARE_VXLAN} nud permanent`);
      sh(`bridge -n ${h.ns} fdb append ${mac} dev ${BARE_VXLAN} dst ${peer.ip}`);
      sh(`ip -n ${h.ns} route add ${subnet(j)}.0/24 via ${subnet(j)}.0 dev ${BARE_VXLAN} onlink`);
    });
  });
  return () => {
    for (const cmd of undo.reverse()) sh(cmd);
  };
}

/** The bare pods' MTU on both veth ends. */
export function setBareMTU(
  hosts: readonly TestHost[],
  pods: readonly BarePod[],
  mtu: number,
): void {
  hosts.forEach((h, i) => {
    sh(`ip -n ${h.ns} link set ${BARE_VETH} mtu ${mtu}`);
    sh(`ip -n ${pods[i]!.ns} link set eth0 mtu ${mtu}`);
  });
}
