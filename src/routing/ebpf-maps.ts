// What the eBPF data path's maps should hold on one host (bpf/datapath.c reads them): pure, from
// the pods this host wired, its links' indexes, its host-gw peers, the pods policies hold and
// the services' ports and backends. Only IPv4 is fast-pathed in this first landing; IPv6 keeps the kernel
// path. Keys and values are laid out as the C structs are, in `bpftool`'s hex.
import { endianness } from 'node:os';
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

/**
 * A service port as the proxy programs it (src/proxy/model.ts's ServicePortRule has this
 * shape): its cluster IP and the ready endpoints a new connection may go to.
 */
export interface DatapathService {
  clusterIP: string;
  protocol: string;
  port: number;
  /** ClientIP affinity: remembered per client by the kernel's rules, so left to them. */
  affinitySeconds?: number;
  endpoints: readonly { ip: string; port: number }[];
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
  /** The service ports the proxy programs, of which the program translates TCP to IPv4. */
  services?: readonly DatapathService[];
  /**
   * `drain` after a switch to `kernel`: the programs start no translation and redirect only
   * the connections they translated, until those end (see openTranslations). Default `full`.
   */
  mode?: DatapathMode;
}

export type DatapathMode = 'full' | 'drain';
/** enum mode in the C source. */
const MODE_NUMBERS: Record<DatapathMode, number> = { full: 0, drain: 1 };

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
    services: new Map(),
    serviceBackends: new Map(),
    config: new Map([
      [hexBytes(hostU32(0)), hexBytes(hostU32(MODE_NUMBERS[input.mode ?? 'full']))],
    ]),
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
    maps.backends.set(hexBytes(serviceKey(address, b.port, protocol)), ONE);
  }
  for (const service of input.services ?? []) addService(maps, service);
  return maps;
}

/** struct backend_key: address, port (network order), protocol, pad. */
function serviceKey(address: readonly number[], port: number, protocol: number): number[] {
  return [...address, port >> 8, port & 0xff, protocol, 0];
}

/**
 * A service port the program may translate: its count in pn_dp_services and each endpoint in
 * its slot of pn_dp_service_backends, in the proxy's (sorted) order. Only TCP and UDP to an
 * IPv4 cluster IP without ClientIP affinity, with IPv4 endpoints: everything else (SCTP among
 * them) keeps the kernel's NAT, which the program leaves it to by finding no entry.
 */
function addService(maps: DatapathMaps, service: DatapathService): void {
  const clusterIP = ipv4Bytes(service.clusterIP);
  const protocol = PROTOCOL_NUMBERS[service.protocol];
  if (!clusterIP || (protocol !== 6 && protocol !== 17) || service.affinitySeconds !== undefined)
    return;
  const targets = service.endpoints.flatMap((ep) => {
    const address = ipv4Bytes(ep.ip);
    return address ? [[...address, ep.port >> 8, ep.port & 0xff, 0, 0]] : [];
  });
  if (targets.length === 0) return;
  const key = serviceKey(clusterIP, service.port, protocol);
  maps.services.set(hexBytes(key), hexBytes(hostU32(targets.length)));
  targets.forEach((target, slot) =>
    maps.serviceBackends.set(hexBytes([...key, ...hostU32(slot)]), hexBytes(target)),
  );
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
    'connection starts, UDP (translated or not), ICMP, IPv6, services with ClientIP affinity, connections the kernel translated, and pods a policy holds keep the kernel path';
  return datapathPeersDirect(network)
    ? `ebpf: tc programs translate pods' TCP and UDP to ClusterIPs and redirect TCP between pods on this host and to host-gw peers; ${kept}`
    : `ebpf: tc programs translate pods' TCP and UDP to ClusterIPs and redirect TCP between pods on this host only (${network.encryption ? 'encrypted' : network.backend} peers keep the kernel path); ${kept}`;
}

/**
 * A translation left alone this long is taken as over although no FIN or RST was seen (a peer
 * gone without a word): 15 minutes covers the pauses of request/response traffic without a
 * drain holding the programs for hours. A connection idle longer across a switch to `kernel`
 * is lost: its next packet meets the kernel, which has no NAT for it.
 */
export const TRANSLATION_IDLE_NS = 15n * 60n * 1_000_000_000n;
/**
 * After a FIN or RST, the last ACK follows within a round trip; 5 s also covers a FIN's
 * retransmissions. A later straggler meets the kernel, which has no connection for it.
 */
export const TRANSLATION_CLOSING_NS = 5n * 1_000_000_000n;
/**
 * UDP has no FIN: a flow quiet for 30 s (conntrack's own UDP timeout) is over. A DNS query
 * made just before a switch to `kernel` holds the drain that long at most.
 */
export const TRANSLATION_UDP_IDLE_NS = 30n * 1_000_000_000n;

/**
 * How many of pn_dp_nat's entries (hex key, struct nat_key → hex value, struct nat_entry: address, port,
 * closing, confirmed, then the u64 time of the last packet in host order) still carry an open
 * connection at `nowNs` (the same monotonic clock): each connection counts twice, once per
 * direction. While any do, a switch to `kernel` keeps the programs draining.
 */
export function openTranslations(entries: ReadonlyMap<string, string>, nowNs: bigint): number {
  let open = 0;
  for (const [key, value] of entries) {
    const bytes = Buffer.from(value.split(' ').map((b) => parseInt(b, 16)));
    if (bytes.length < 16) continue;
    const seen = endianness() === 'LE' ? bytes.readBigUInt64LE(8) : bytes.readBigUInt64BE(8);
    // struct nat_key: saddr, daddr, sport, dport, then the protocol (byte 12).
    const udp = key.split(' ')[12] === '11';
    const limit = bytes[6]
      ? TRANSLATION_CLOSING_NS
      : udp
        ? TRANSLATION_UDP_IDLE_NS
        : TRANSLATION_IDLE_NS;
    if (nowNs - seen < limit) open++;
  }
  return open;
}
