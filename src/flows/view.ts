// What an agent knows about the cluster when it names a connection's ends: the pods by address,
// the services by cluster IP and port (and node port), and how this host reaches each node's
// pod subnet. Built from the informers' objects and the host's routes; rebuilt when they change,
// so that naming an event is a few map look-ups.
import type { Node, Pod, Service } from '../api/types.js';
import { containsIP, formatCidr, tryParseCidr, tryParseIP, type Cidr } from '../net/index.js';
import type { FlowPath } from './types.js';

/** A route of the host's table as `ip -j route` shows it. */
export interface HostRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

export interface ViewInput {
  self: string;
  pods: Iterable<Pod>;
  services: Iterable<Service>;
  nodes: Iterable<Node>;
  /** podnet's routes (proto 80) on this host. */
  routes: readonly HostRoute[];
  /** Where routes come from: BGP-learnt routes are reported as `bgp`. */
  routing: 'store' | 'bgp';
  /** With the cloud backend a peer's subnet has no route on the host: the VPC carries it. */
  backend: string;
  /** podnet's tunnel devices by the path they stand for (e.g. pn-vxlan → vxlan). */
  tunnels: Record<string, FlowPath>;
}

export interface PodRef {
  /** The address it was found by (one string shared by every flow of the pod). */
  ip: string;
  pod: string;
  node?: string;
}

export interface ServiceRef {
  namespace: string;
  name: string;
}

export interface ClusterView {
  self: string;
  pods: Map<string, PodRef>;
  /** `tcp/10.96.0.20:80` → the service. */
  services: Map<string, ServiceRef>;
  /** `tcp/30080` → the service with that node port. */
  nodePorts: Map<string, ServiceRef>;
  subnets: { node: string; cidr: Cidr; path: FlowPath }[];
  /**
   * Addresses already placed in a subnet (null: in none), so that an event's addresses are
   * parsed once per view rather than once per event: a node's connections come from few pods.
   */
  placed: Map<string, SubnetHit | null>;
}

export interface SubnetHit {
  node: string;
  path: FlowPath;
}

/** Addresses remembered per view; past this the memory starts again (many outside clients). */
const PLACED_LIMIT = 4096;

export function serviceKey(protocol: string, ip: string, port: number): string {
  return `${protocol.toLowerCase()}/${ip}:${port}`;
}

export function nodePortKey(protocol: string, port: number): string {
  return `${protocol.toLowerCase()}/${port}`;
}

export function clusterView(input: ViewInput): ClusterView {
  const pods = new Map<string, PodRef>();
  for (const pod of input.pods) {
    const name = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const ips = pod.status?.podIPs?.map((p) => p.ip) ?? [];
    if (pod.status?.podIP) ips.push(pod.status.podIP);
    for (const ip of ips) pods.set(ip, { ip, pod: name, node: pod.spec.nodeName });
  }
  const services = new Map<string, ServiceRef>();
  const nodePorts = new Map<string, ServiceRef>();
  for (const svc of input.services) {
    const ref = { namespace: svc.metadata.namespace ?? 'default', name: svc.metadata.name };
    const ips = new Set([...(svc.spec.clusterIPs ?? []), svc.spec.clusterIP ?? 'None']);
    ips.delete('None');
    for (const port of svc.spec.ports ?? []) {
      const protocol = port.protocol ?? 'TCP';
      for (const ip of ips) services.set(serviceKey(protocol, ip, port.port), ref);
      if (port.nodePort) nodePorts.set(nodePortKey(protocol, port.nodePort), ref);
    }
  }
  const routes = new Map<string, HostRoute>();
  for (const r of input.routes) {
    const cidr = tryParseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
    if (cidr) routes.set(formatCidr(cidr), r);
  }
  const subnets: ClusterView['subnets'] = [];
  for (const node of input.nodes) {
    for (const text of node.spec.podCIDRs ?? (node.spec.podCIDR ? [node.spec.podCIDR] : [])) {
      const cidr = tryParseCidr(text);
      if (!cidr) continue;
      const name = node.metadata.name;
      const path = name === input.self ? 'local' : peerPath(routes.get(formatCidr(cidr)), input);
      subnets.push({ node: name, cidr, path });
    }
  }
  return { self: input.self, pods, services, nodePorts, subnets, placed: new Map() };
}

/** How this host reaches a peer's pod subnet, read from the route podnet installed for it. */
function peerPath(route: HostRoute | undefined, input: ViewInput): FlowPath {
  if (!route) return input.backend === 'cloud' ? 'cloud' : 'unknown';
  const tunnel = route.dev ? input.tunnels[route.dev] : undefined;
  if (tunnel) return tunnel;
  return input.routing === 'bgp' ? 'bgp' : 'direct';
}

/** The node whose pod subnet holds `ip`, with the path to it; undefined outside every subnet. */
export function subnetOf(view: ClusterView, ip: string): SubnetHit | undefined {
  const known = view.placed.get(ip);
  if (known !== undefined) return known ?? undefined;
  const addr = tryParseIP(ip);
  const hit = addr && view.subnets.find((s) => containsIP(s.cidr, addr));
  if (view.placed.size >= PLACED_LIMIT) view.placed.clear();
  view.placed.set(ip, hit ?? null);
  return hit;
}
