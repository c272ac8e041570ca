// `lab up --backend cloud` as plain data: where the emulated EC2 API and instance metadata
// live, the lab's VPC (one subnet and route table per zone, one instance per host), the
// ClusterNetwork's spec.cloud, and what the underlay router — the VPC router — makes of the
// emulated route tables. Pure; src/lab/cloud-up.ts and the lab's cloud processes act on it.
import { join } from 'node:path';
import type { CloudOverflow, CloudSettings } from '../api/types.js';
import { containsIP, parseCidr, parseIP } from '../net/index.js';
import type { LabPlan } from './plan.js';

export const LAB_REGION = 'us-east-1';
/** moto listens here inside the underlay namespace only: everything goes through the guard. */
export const MOTO_ADDRESS = '127.0.0.1:5000';
export const GUARD_PORT = 4566;
/** Where instance metadata answers, as on EC2: one hop beyond each host (the underlay). */
export const METADATA_ADDRESS = '169.254.169.254';
/** The founding note's figure, and AWS's default before mid-2025. */
export const DEFAULT_LAB_ROUTE_LIMIT = 50;
/** Kernel routing tables of the VPC router: zone z's route table is table BASE + z. */
export const ROUTER_TABLE_BASE = 100;

/** The lab's cloud choices (LabOptions.cloud). */
export interface LabCloudOptions {
  /** Routes each table may hold besides the VPC's own `local` route. */
  routeLimit: number;
  overflow: CloudOverflow;
}

export interface LabInstance {
  host: string;
  /** The host's underlay address, which is the instance's private address. */
  ip: string;
  /** In a dual-stack lab: the host's IPv6 underlay address, where the VPC sends IPv6 routes. */
  ipv6?: string;
  /** The host's port on its zone bridge, where the VPC checks source and destination. */
  port: string;
  instanceId: string;
  networkInterfaceId: string;
  mac: string;
  subnetId: string;
  availabilityZone: string;
}

export interface LabRouteTable {
  zone: string;
  /** The zone's bridge in the underlay: its traffic is routed by this table. */
  bridge: string;
  id: string;
  subnetId: string;
}

/** cloud.json: what the lab made in the emulated EC2, for its cloud processes and the tests. */
export interface LabCloud {
  region: string;
  /** The guard's URL inside the lab (agents). */
  endpoint: string;
  /** The guard's URL from the machine's own namespace (through a relay). */
  hostEndpoint: string;
  vpcId: string;
  /** Routes per table as the API counts them (the local route included). */
  quota: number;
  overflow: CloudOverflow;
  routeTables: LabRouteTable[];
  instances: LabInstance[];
}

export function cloudDir(labDir: string): string {
  return join(labDir, 'cloud');
}

export function cloudFile(labDir: string): string {
  return join(cloudDir(labDir), 'cloud.json');
}

export function guardAddress(plan: Pick<LabPlan, 'zones'>): string {
  return `${plan.zones[0]!.router}:${GUARD_PORT}`;
}

/** Zone z's availability zone: us-east-1a, us-east-1b, ... */
export function availabilityZone(zoneIndex: number): string {
  return `${LAB_REGION}${String.fromCharCode(96 + zoneIndex)}`;
}

/**
 * The ClusterNetwork's spec.cloud. podnet counts the `local` route against the quota like the
 * API does, so its limit is the lab's node routes plus that one.
 */
export function labCloudSettings(cloud: LabCloud): CloudSettings {
  return {
    provider: 'aws',
    routeTableIDs: cloud.routeTables.map((t) => t.id),
    region: cloud.region,
    endpoint: cloud.endpoint,
    metadataEndpoint: `http://${METADATA_ADDRESS}`,
    routeLimit: cloud.quota,
    overflow: cloud.overflow,
  };
}

/** One route of an emulated table, as the VPC router acts on it. */
export interface EmulatedRoute {
  destination: string;
  networkInterfaceId?: string;
  /** Set for the VPC's own route (gatewayId local) and gateways: not the router's business. */
  gatewayId?: string;
}

export interface EmulatedInterface {
  id: string;
  ip: string;
  /** Its instance's IPv6 address, in a dual-stack lab (the lab's record; moto assigns none). */
  ipv6?: string;
  sourceDestCheck: boolean;
  /** False once its instance is terminated or stopped: routes to it are blackholes. */
  live: boolean;
}

/** The kernel routes of one zone's table: `<dst> via <ip> dev <bridge>` or a blackhole. */
export interface RouterRoute {
  table: number;
  destination: string;
  via?: { ip: string; bridge: string };
}

/** A route whose target is gone answers `blackhole`, as AWS reports it. */
export function routeState(
  route: EmulatedRoute,
  interfaces: ReadonlyMap<string, EmulatedInterface>,
): 'active' | 'blackhole' {
  if (route.networkInterfaceId === undefined) return 'active';
  return interfaces.get(route.networkInterfaceId)?.live ? 'active' : 'blackhole';
}

/**
 * What the VPC router's kernel should hold for the emulated tables: each zone's table routes
 * the node routes to the target's address of the route's family on its zone bridge, or drops
 * them (blackhole) when the target is gone or has no address of that family.
 */
export function routerRoutes(
  tables: readonly { table: LabRouteTable; zoneIndex: number; routes: readonly EmulatedRoute[] }[],
  interfaces: ReadonlyMap<string, EmulatedInterface>,
  zones: readonly { subnet: string; bridge: string }[],
): RouterRoute[] {
  const bridgeOf = (ip: string): string | undefined =>
    zones.find((z) => containsIP(parseCidr(z.subnet), parseIP(ip)))?.bridge;
  const out: RouterRoute[] = [];
  for (const { zoneIndex, routes } of tables) {
    const table = ROUTER_TABLE_BASE + zoneIndex;
    for (const r of routes) {
      if (r.gatewayId !== undefined || r.networkInterfaceId === undefined) continue;
      const target = interfaces.get(r.networkInterfaceId);
      const bridge = target && bridgeOf(target.ip);
      const ipv6 = parseCidr(r.destination, { loose: true }).family === 6;
      const via = ipv6 ? target?.ipv6 : target?.ip;
      if (routeState(r, interfaces) === 'active' && via && bridge) {
        out.push({ table, destination: r.destination, via: { ip: via, bridge } });
      } else {
        out.push({ table, destination: r.destination });
      }
    }
  }
  return out;
}

/** `ip route` arguments (after `route replace`) of a router route. */
export function routerRouteSpec(r: RouterRoute): string {
  return r.via
    ? `${r.destination} via ${r.via.ip} dev ${r.via.bridge} onlink table ${r.table}`
    : `blackhole ${r.destination} table ${r.table}`;
}

export const CHECK_TABLE = 'podnet-vpc';

/**
 * The source/destination check as nftables in the underlay's bridges: an instance whose
 * interface has it on may send only from, and receive only to, its own address.
 */
export function sourceDestCheckScript(
  instances: readonly LabInstance[],
  interfaces: ReadonlyMap<string, EmulatedInterface>,
): string {
  const checked = instances.filter((i) => interfaces.get(i.networkInterfaceId)?.sourceDestCheck);
  // Each family held to its own address; IPv6 neighbour discovery uses link-local sources.
  const held = (i: LabInstance, dir: 'iifname' | 'oifname', addr: 'saddr' | 'daddr'): string[] => [
    `    ${dir} "${i.port}" ip ${addr} != ${i.ip} drop`,
    ...(i.ipv6 ? [`    ${dir} "${i.port}" ip6 ${addr} != { ${i.ipv6}, fe80::/10 } drop`] : []),
  ];
  const from = checked.flatMap((i) => held(i, 'iifname', 'saddr'));
  const to = checked.flatMap((i) => held(i, 'oifname', 'daddr'));
  return [
    `add table bridge ${CHECK_TABLE}`,
    `delete table bridge ${CHECK_TABLE}`,
    `table bridge ${CHECK_TABLE} {`,
    '  chain from-instances {',
    '    type filter hook prerouting priority 0; policy accept;',
    ...from,
    '  }',
    '  chain to-instances {',
    '    type filter hook output priority 0; policy accept;',
    ...to,
    '  }',
    '}',
    '',
  ].join('\n');
}
