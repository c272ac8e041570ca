// Configuration for a real router that carries pod routes between zones natively (the
// top-of-rack pattern): BIRD 2 or FRR, in its own AS, peering eBGP with every host.
// All hosts share one AS, so the router overrides it in paths it passes on (FRR calls this
// as-override; BIRD deletes the AS in an export filter) — else each host would drop the
// others' routes as AS_PATH loops. On a dual-stack underlay the same sessions carry IPv6
// unicast too (multiprotocol over the IPv4 session), with the router's IPv6 address on each
// segment as the next hop it gives. On an IPv6-only cluster the sessions run over IPv6 between
// the segment's IPv6 addresses and carry IPv6 unicast alone.

export interface FabricHost {
  name: string;
  /** The host's address on its zone's segment. */
  address: string;
  /** The router's own address on that segment. */
  routerAddress: string;
  /** On a dual-stack underlay: the host's and the router's IPv6 addresses on the segment. */
  ipv6?: { address: string; routerAddress: string };
}

export interface FabricSpec {
  routerId: string;
  routerAs: number;
  /** The AS every host is in. */
  clusterAs: number;
  hosts: FabricHost[];
  holdTime?: number;
  connectRetryTime?: number;
  /** Sessions over IPv6 carrying IPv6 alone (an IPv6-only cluster); every host has ipv6. */
  ipv6Only?: boolean;
}

function protocolName(host: FabricHost): string {
  return `host_${host.name.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/** bird.conf: BGP to each host, learnt routes into the router's kernel for forwarding. */
export function renderBirdFabric(spec: FabricSpec): string {
  const hold = spec.holdTime ?? 90;
  const retry = spec.connectRetryTime ?? 3;
  const dual = spec.hosts.some((h) => h.ipv6);
  const v6only = spec.ipv6Only === true;
  // IPv6 over an IPv4 session: BIRD cannot take the next hop from the session's own address.
  const ipv6Channel = (h: FabricHost): string[] =>
    h.ipv6 && !v6only ? [`  ipv6 { next hop address ${h.ipv6.routerAddress}; };`] : [];
  const hosts = spec.hosts.map((h) => {
    const ends = v6only ? h.ipv6! : h;
    return [
      `protocol bgp ${protocolName(h)} from podnet_host {`,
      `  local ${ends.routerAddress} as ${spec.routerAs};`,
      `  neighbor ${ends.address} as ${spec.clusterAs};`,
      ...ipv6Channel(h),
      '}',
    ].join('\n');
  });
  const channel4 = v6only ? '' : '  ipv4 { import all; export filter podnet_out; };\n';
  const kernel6 = dual
    ? 'protocol kernel kernel6 {\n  ipv6 { import none; export where source = RTS_BGP; };\n}\n'
    : '';
  const channel6 = dual ? '  ipv6 { import all; export filter podnet_out; };\n' : '';
  return `# podnet fabric router (BIRD 2), generated
router id ${spec.routerId};
protocol device {}
protocol kernel {
  ipv4 { import none; export where source = RTS_BGP; };
}
${kernel6}filter podnet_out {
  bgp_path.delete(${spec.clusterAs});
  accept;
}
template bgp podnet_host {
  hold time ${hold};
  connect retry time ${retry};
  graceful restart on;
${channel4}${channel6}}
${hosts.join('\n')}
`;
}

/** bgpd.conf for FRR (zebra installs the routes; run zebra beside bgpd for forwarding). */
export function renderFrrFabric(spec: FabricSpec): string {
  const hold = spec.holdTime ?? 90;
  const v6only = spec.ipv6Only === true;
  const lines = [
    '! podnet fabric router (FRR), generated',
    `router bgp ${spec.routerAs}`,
    ` bgp router-id ${spec.routerId}`,
    ' no bgp ebgp-requires-policy',
    // Else every neighbor, an IPv6 one too, would be offered IPv4 unicast.
    ...(v6only ? [' no bgp default ipv4-unicast'] : []),
    ' bgp graceful-restart',
  ];
  for (const h of spec.hosts) {
    const ends = v6only ? h.ipv6! : h;
    lines.push(
      ` neighbor ${ends.address} remote-as ${spec.clusterAs}`,
      ` neighbor ${ends.address} update-source ${ends.routerAddress}`,
      ` neighbor ${ends.address} timers ${Math.max(1, Math.floor(hold / 3))} ${hold}`,
      ` neighbor ${ends.address} timers connect ${spec.connectRetryTime ?? 3}`,
    );
  }
  if (v6only) {
    lines.push(' address-family ipv6 unicast');
    for (const h of spec.hosts) {
      lines.push(
        `  neighbor ${h.ipv6!.address} activate`,
        `  neighbor ${h.ipv6!.address} as-override`,
      );
    }
    lines.push(' exit-address-family', '');
    return lines.join('\n');
  }
  lines.push(' address-family ipv4 unicast');
  for (const h of spec.hosts) lines.push(`  neighbor ${h.address} as-override`);
  lines.push(' exit-address-family');
  // IPv6 over the IPv4 session; bgpd takes its IPv6 next hop from the segment's interface.
  const dual = spec.hosts.filter((h) => h.ipv6);
  if (dual.length) {
    lines.push(' address-family ipv6 unicast');
    for (const h of dual) {
      lines.push(`  neighbor ${h.address} activate`, `  neighbor ${h.address} as-override`);
    }
    lines.push(' exit-address-family');
  }
  lines.push('');
  return lines.join('\n');
}
