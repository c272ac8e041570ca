// The route controller's decisions, as Kubernetes' route controller makes them but quota-aware:
// which node gets a slot in the route tables, and which Create/Replace/DeleteRoute calls bring
// each table there. Pure: tables and nodes in, placements and calls out. Only routes inside the
// cluster CIDRs are podnet's; every other route (local, default, a peering) is left alone and
// counts against the quota like any route. A dual-stack node has a route per pod subnet, and a
// route table's quota holds for each family apart, as AWS counts IPv4 and IPv6 routes.
import type { CloudOverflow, CloudPlacement } from '../api/types.js';
import { containsCidr, formatCidr, parseCidr, tryParseCidr, type Family } from '../net/index.js';

/** One route as DescribeRouteTables lists it. */
export interface TableRoute {
  destination: string;
  /** The network interface it sends to (absent for gateways, or an instance-only target). */
  networkInterfaceId?: string;
  state: 'active' | 'blackhole';
}

export interface RouteTable {
  id: string;
  routes: TableRoute[];
}

/** A node as the controller needs it: its pod subnets and its interface, once its agent said. */
export interface RoutedNode {
  name: string;
  /** One per family: a route each. */
  podCIDRs: string[];
  networkInterfaceId?: string;
}

export type RouteCall =
  | { op: 'delete'; table: string; destination: string; why: string }
  | { op: 'replace'; table: string; destination: string; networkInterfaceId: string; was: string }
  | { op: 'create'; table: string; destination: string; networkInterfaceId: string };

/** Why a node has no route, for its condition and `podnet doctor`. */
export interface QuotaShortfall {
  table: string;
  /** Routes of the full family the table would hold with every node that fits. */
  count: number;
  limit: number;
}

export interface RoutePlan {
  /** Deletes first (they free slots), then replaces, then creates. */
  calls: RouteCall[];
  placements: Map<string, CloudPlacement>;
  /** Set when some node did not fit: the fullest table. */
  shortfall?: QuotaShortfall;
}

export interface PlanInput {
  tables: readonly RouteTable[];
  nodes: readonly RoutedNode[];
  /** The pod ranges, one per family. */
  clusterCIDRs: readonly string[];
  /** Routes a table may hold, in each family. */
  routeLimit: number;
  overflow: CloudOverflow;
}

/**
 * Nodes already holding a route keep their slot (no node loses its route because another
 * joined); the rest fill the free slots in name order, and those left over overflow or are
 * refused. A node takes a slot in each family it has a subnet of, and is routed only when all
 * fit. A node whose interface is not known yet waits and takes no slot.
 */
export function planRoutes(input: PlanInput): RoutePlan {
  const clusters = input.clusterCIDRs.map((c) => parseCidr(c, { loose: true }));
  const inCluster = (r: TableRoute): boolean => {
    const dst = tryParseCidr(r.destination, { loose: true });
    return dst !== undefined && clusters.some((cluster) => containsCidr(cluster, dst));
  };
  const known = input.nodes
    .filter((n) => n.networkInterfaceId !== undefined)
    .map((n) => ({ ...n, podCIDRs: n.podCIDRs.map(canonical) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Free slots per family: the limit less the routes podnet does not own, in the fullest table.
  const foreignIn = (t: RouteTable, family: Family): number =>
    t.routes.filter((r) => !inCluster(r) && familyOf(r.destination) === family).length;
  const foreign = (family: Family): number =>
    Math.max(0, ...input.tables.map((t) => foreignIn(t, family)));
  const slots = { 4: input.routeLimit - foreign(4), 6: input.routeLimit - foreign(6) };
  const holds = (n: RoutedNode): boolean =>
    input.tables.some((t) =>
      t.routes.some((r) => r.state === 'active' && n.podCIDRs.includes(canonical(r.destination))),
    );
  const ordered = [...known.filter(holds), ...known.filter((n) => !holds(n))];
  // In order, until the first node that does not fit: none is passed by one behind it.
  const used = { 4: 0, 6: 0 };
  let full: Family | undefined;
  const routed: typeof known = [];
  for (const n of ordered) {
    const families = n.podCIDRs.map(familyOf);
    full = families.find((f) => used[f] + 1 > slots[f]);
    if (full) break;
    for (const f of families) used[f]++;
    routed.push(n);
  }
  const left = ordered.slice(routed.length);

  const placements = new Map<string, CloudPlacement>();
  for (const n of routed) placements.set(n.name, 'routed');
  const rest: CloudPlacement = input.overflow === 'vxlan' ? 'overflow' : 'refused';
  for (const n of left) placements.set(n.name, rest);

  const calls: RouteCall[] = [];
  const replaces: RouteCall[] = [];
  const creates: RouteCall[] = [];
  const want = new Map(routed.flatMap((n) => n.podCIDRs.map((c) => [c, n.networkInterfaceId!])));
  for (const table of input.tables) {
    const seen = new Set<string>();
    for (const route of table.routes) {
      if (!inCluster(route)) continue;
      const destination = canonical(route.destination);
      const target = want.get(destination);
      if (target === undefined || seen.has(destination)) {
        calls.push({
          op: 'delete',
          table: table.id,
          destination: route.destination,
          why: route.state === 'blackhole' ? 'blackhole' : 'matches no routed node',
        });
        continue;
      }
      seen.add(destination);
      if (route.state === 'blackhole' || route.networkInterfaceId !== target) {
        replaces.push({
          op: 'replace',
          table: table.id,
          destination: route.destination,
          networkInterfaceId: target,
          was:
            route.state === 'blackhole'
              ? 'blackhole'
              : (route.networkInterfaceId ?? 'another target'),
        });
      }
    }
    for (const [destination, networkInterfaceId] of want) {
      if (!seen.has(destination)) {
        creates.push({ op: 'create', table: table.id, destination, networkInterfaceId });
      }
    }
  }
  calls.push(...replaces, ...creates);

  let shortfall: QuotaShortfall | undefined;
  if (full !== undefined) {
    const family = full;
    const fullest = input.tables.reduce((a, b) =>
      foreignIn(b, family) > foreignIn(a, family) ? b : a,
    );
    shortfall = {
      table: fullest.id,
      count: foreign(family) + used[family],
      limit: input.routeLimit,
    };
  }
  return { calls, placements, shortfall };
}

/** A route's family (IPv4 for what does not parse: it is never podnet's). */
function familyOf(cidr: string): Family {
  return tryParseCidr(cidr, { loose: true })?.family ?? 4;
}

function canonical(cidr: string): string {
  const parsed = tryParseCidr(cidr, { loose: true });
  return parsed ? formatCidr(parsed) : cidr;
}
