// What the eBPF data path's maps should hold on one host (bpf/datapath.c reads them): pure, from
// the pods this host wired, its links' indexes, its host-gw peers, the pods policies hold and
// the services' backends. Only IPv4 is fast-pathed in this first landing; IPv6 keeps the kernel
// path. Keys and values are laid out as the C structs are, in `bpftool`'s hex.
import type { Datapath, EndpointSlice } from '../api/types.js';
import { hexBytes, hostU32 } from '../kernel/bpf-ipip.js';
import type { DatapathMaps } from '../kernel/bpf-datapath.js';
import { hostMacFor, podMacFor } from '../kernel/pod-veth.js';
import { containsIP, ipBytes, networkAddress, tryParseCidr, tryParseIP } from '../net/index.js';

export interface DatapathPod {
  hostVeth: string;
  ip: string;
}

/** A host-gw peer: its IPv4 pod subnet behind its underlay address. */
export interface DatapathPeer {
  podCIDR: string;
  ip: string;
}

/** A service backend's address, port and protocol (its replies need conntrack's reverse NAT). */
export interface DatapathBackend {
  ip: string;
  port: number;
  protocol: string;
}

export interface DatapathInput {
  /** The pods wired on this host. */
  pods: readonly DatapathPod[];
  /** This host's links by name → ifindex. */
  ifindexes: ReadonlyMap<string, number>;
  /** The underlay device packets to peers leave by (absent: same-host redirects only). */
  underlay?: string;
  /** The underlay's subnet: only peers on it are on-link, so reached by their neighbour entry. */
  underlaySubnet?: string;
  peers: readonly DatapathPeer[];
  /** Addresses of every pod a policy holds, anywhere in the cluster. */
  policyPods: readonly string[];
  backends: readonly DatapathBackend[];
}

const PROTOCOL_NUMBERS: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** The IPv4 address's four bytes, or undefined for anything else. */
function ipv4Bytes(text: string): number[] | undefined {
  const ip = tryParseIP(text);
  return ip?.family === 4 ? ipBytes(ip) : undefined;
}

function macBytes(mac: string): number[] {
  return mac.split(':').map((b) => parseInt(b, 16));
}

const ONE = hexBytes(hostU32(1));

export function desiredDatapathMaps(input: DatapathInput): DatapathMaps {
  const maps: DatapathMaps = {
    pods: new Map(),
    sources: new Map(),
    routes: new Map(),
    policy: new Map(),
    backends: new Map(),
  };
  for (const pod of input.pods) {
    const address = ipv4Bytes(pod.ip);
    const ifindex = input.ifindexes.get(pod.hostVeth);
    if (!address || ifindex === undefined) continue;
    maps.pods.set(
      hexBytes(address),
      hexBytes([
        ...hostU32(ifindex),
        ...macBytes(podMacFor(pod.ip)),
        ...macBytes(hostMacFor(pod.hostVeth)),
      ]),
    );
    maps.sources.set(hexBytes(hostU32(ifindex)), hexBytes(address));
  }
  const underlay = input.underlay === undefined ? undefined : input.ifindexes.get(input.underlay);
  const link = input.underlaySubnet
    ? tryParseCidr(input.underlaySubnet, { loose: true })
    : undefined;
  if (underlay !== undefined && link) {
    for (const peer of input.peers) {
      const subnet = tryParseCidr(peer.podCIDR, { loose: true });
      const nexthop = ipv4Bytes(peer.ip);
      const address = tryParseIP(peer.ip);
      if (subnet?.family !== 4 || !nexthop || !address || !containsIP(link, address)) continue;
      maps.routes.set(
        hexBytes([...hostU32(subnet.prefix), ...ipBytes(networkAddress(subnet))]),
        hexBytes([...hostU32(underlay), ...nexthop]),
      );
    }
  }
  for (const ip of input.policyPods) {
    const address = ipv4Bytes(ip);
    if (address) maps.policy.set(hexBytes(address), ONE);
  }
  for (const b of input.backends) {
    const address = ipv4Bytes(b.ip);
    const protocol = PROTOCOL_NUMBERS[b.protocol];
    if (!address || protocol === undefined) continue;
    maps.backends.set(hexBytes([...address, b.port >> 8, b.port & 0xff, protocol, 0]), ONE);
  }
  return maps;
}

/** Every ready-or-not IPv4 endpoint of every slice, with each of its ports. */
export function sliceBackends(slices: Iterable<EndpointSlice>): DatapathBackend[] {
  const out: DatapathBackend[] = [];
  for (const slice of slices) {
    if (slice.addressType !== 'IPv4') continue;
    for (const endpoint of slice.endpoints) {
      for (const ip of endpoint.addresses) {
        for (const port of slice.ports ?? []) {
          if (port.port !== undefined) {
            out.push({ ip, port: port.port, protocol: port.protocol ?? 'TCP' });
          }
        }
      }
    }
  }
  return out;
}

/**
 * Whether this host runs the eBPF data path's redirects to peers: host-gw only (VXLAN,
 * IP-in-IP and WireGuard peers keep the kernel path in this first landing), with no
 * encryption; the same-host redirects run under any backend.
 */
export function datapathPeersDirect(network: {
  datapath?: Datapath;
  backend: string;
  encryption?: string;
}): boolean {
  return network.datapath === 'ebpf' && network.backend === 'host-gw' && !network.encryption;
}

/** What the data path does on a host, as `plan` says it. */
export function describeDatapath(network: {
  datapath?: Datapath;
  backend: string;
  encryption?: string;
}): string {
  if (network.datapath !== 'ebpf') return "kernel (the host's forwarding path)";
  const kept =
    "connection starts, UDP, ICMP, IPv6, services' DNAT and their backends' replies, and pods a policy holds keep the kernel path";
  return datapathPeersDirect(network)
    ? `ebpf: tc programs redirect TCP between pods on this host and to host-gw peers; ${kept}`
    : `ebpf: tc programs redirect TCP between pods on this host only (${network.encryption ? 'encrypted' : network.backend} peers keep the kernel path); ${kept}`;
}
