// A routing topology made dual-stack for the benchmarks that measure IPv6 beside IPv4: every
// host gets a ULA address on its zone's segment, every pod an IPv6 /128 wired as the CNI plugin
// wires it (the host side answers as fe80::1, the pod's default route), and the Nodes routing
// reads carry the IPv6 pod subnet and address beside the IPv4 ones.
import type { Node } from '../../src/api/types.js';
import { sh, type TestHost, type Topology } from '../../test/helpers/routing-topology.js';

/** The IPv6 gateway every pod's host side answers as (the plugin's choice too). */
const POD_GATEWAY = 'fe80::1';

/** A host's ULA address on its zone's segment. */
export function hostIPv6(host: TestHost): string {
  return `fd00:172:31:${host.zone}::${(10 + Number(host.name.slice('node-'.length))).toString(16)}`;
}

function podSubnetIPv6(host: TestHost): string {
  return `fd00:10:244:${host.name.slice('node-'.length)}::/64`;
}

/** The IPv6 address of each host's first pod, in host order. */
export function podIPv6(host: TestHost): string {
  return podSubnetIPv6(host).replace('::/64', '::2');
}

/**
 * Adds IPv6 to `topo` (hosts, their first pods over `veths`, the host-side pod devices) and
 * returns the topology whose Nodes show it. No duplicate address detection anywhere: nothing
 * may still be tentative when the first packet goes.
 */
export function addIPv6(topo: Topology, veths: readonly string[]): Topology {
  for (const ns of [topo.underlay, ...topo.hosts.flatMap((h) => [h.ns, h.pods[0]!.ns])]) {
    sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.all.accept_dad=0`);
    sh(`ip netns exec ${ns} sysctl -qw net.ipv6.conf.default.accept_dad=0`);
  }
  sh(`ip netns exec ${topo.underlay} sysctl -qw net.ipv6.conf.all.forwarding=1`);
  for (const z of new Set(topo.hosts.map((h) => h.zone))) {
    sh(`ip -n ${topo.underlay} -6 addr add fd00:172:31:${z}::fe/64 dev br${z} nodad`);
  }
  topo.hosts.forEach((h, i) => {
    const pod = h.pods[0]!;
    const veth = veths[i]!;
    sh(`ip -n ${h.ns} -6 addr add ${hostIPv6(h)}/64 dev eth0 nodad`);
    sh(`ip -n ${h.ns} -6 addr add ${POD_GATEWAY}/64 dev ${veth} nodad`);
    sh(`ip -n ${h.ns} -6 route replace ${podIPv6(h)}/128 dev ${veth} proto 80`);
    sh(`ip -n ${pod.ns} -6 addr add ${podIPv6(h)}/128 dev eth0 nodad`);
    sh(`ip -n ${pod.ns} -6 route add default via ${POD_GATEWAY} dev eth0`);
  });
  const nodes = (): Node[] =>
    topo.nodes().map((node, i) => {
      const h = topo.hosts[i]!;
      return {
        ...node,
        spec: { ...node.spec, podCIDRs: [h.podCIDR, podSubnetIPv6(h)] },
        status: {
          ...node.status,
          addresses: [
            ...(node.status?.addresses ?? []),
            { type: 'InternalIP', address: hostIPv6(h) },
          ],
        },
      };
    });
  return { ...topo, nodes };
}
