// The Result an ADD prints, in the shape of the configuration's cniVersion: 0.4.0 marks each
// IP with `version`, 1.1.0 adds interface `mtu`. podman converts results to 0.4.0 and fails
// unless every interface inside the sandbox has a parseable `mac`, so both sides carry one.
import { tryParseIP } from '../net/index.js';

export interface PodNetwork {
  hostVeth: { name: string; mac: string };
  pod: { ifname: string; mac: string; netns: string };
  /** The pod's first address and prefix, e.g. 10.244.1.5/32 (IPv6 on an IPv6-only cluster). */
  address: string;
  gateway: string;
  /** The pod's IPv6 address and prefix and its link-local gateway, on a dual-stack node. */
  ipv6?: { address: string; gateway: string };
  mtu: number;
  dns: { nameservers: string[]; domain: string; podNamespace: string };
}

export interface CniInterface {
  name: string;
  mac: string;
  mtu?: number;
  sandbox?: string;
}

export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: { version?: '4' | '6'; address: string; gateway: string; interface: number }[];
  routes: { dst: string; gw?: string }[];
  dns: { nameservers: string[]; domain: string; search: string[]; options: string[] };
}

export function buildResult(cniVersion: string, net: PodNetwork): CniResult {
  const withMtu = cniVersion === '1.1.0';
  const host: CniInterface = { name: net.hostVeth.name, mac: net.hostVeth.mac };
  const pod: CniInterface = { name: net.pod.ifname, mac: net.pod.mac, sandbox: net.pod.netns };
  if (withMtu) {
    host.mtu = net.mtu;
    pod.mtu = net.mtu;
  }
  const ip: CniResult['ips'][number] = {
    address: net.address,
    gateway: net.gateway,
    interface: 1,
  };
  // An IPv6-only cluster's pod has its IPv6 address here, and no IPv4 one.
  const family: '4' | '6' = tryParseIP(net.gateway)?.family === 6 ? '6' : '4';
  const ips = [cniVersion === '0.4.0' ? { version: family, ...ip } : ip];
  const routes: CniResult['routes'] = [
    { dst: family === '6' ? '::/0' : '0.0.0.0/0', gw: net.gateway },
  ];
  if (net.ipv6) {
    const ip6 = { address: net.ipv6.address, gateway: net.ipv6.gateway, interface: 1 };
    ips.push(cniVersion === '0.4.0' ? { version: '6', ...ip6 } : ip6);
    routes.push({ dst: '::/0', gw: net.ipv6.gateway });
  }
  return { cniVersion, interfaces: [host, pod], ips, routes, dns: podDNS(net.dns) };
}

/** The pod's resolver settings, as the Kubernetes DNS spec and kubelet's ClusterFirst give them. */
export function podDNS(dns: PodNetwork['dns']): CniResult['dns'] {
  const d = dns.domain;
  return {
    nameservers: dns.nameservers,
    domain: d,
    search: [`${dns.podNamespace}.svc.${d}`, `svc.${d}`, d],
    options: ['ndots:5'],
  };
}
