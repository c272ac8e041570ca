// The route controller's decisions, as Kubernetes' route controller makes them but quota-aware:
// which node gets a slot in the route tables, and which Create/Replace/DeleteRoute calls bring
// each table there. Pure: tables and nodes in, placements and calls out. Only routes inside the
// cluster CIDR are podnet's; every other route (local, default, a peering) is left alone and
// counts against the quota like any route.
import type { CloudOverflow, CloudPlacement } from '../api/types.js';
import { containsCidr, formatCidr, parseCidr, tryParseCidr } from '../net/index.js';

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

/** A node as the controller needs it: its pod subnet and its interface, once its agent said. */
export interface RoutedNode {
  name: string;
  podCIDR: string;
  networkInterfaceId?: string;
}

export type RouteCall =
  | { op: 'delete'; table: string; destination: string; why: string }
  | { op: 'replace'; table: string; destination: string; networkInterfaceId: string; was: string }
  | { op: 'create'; table: string; destination: string; networkInterfaceId: string };

/** Why a node has no route, for its condition and `podnet doctor`. */
export interface QuotaShortfall {
  table: string;
  /** Routes the table would hold with every node that fits. */
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
  clusterCIDR: string;
  routeLimit: number;
  overflow: CloudOverflow;
}

/**
 * Nodes already holding a route keep their slot (no node loses its route because another
 * joined); the rest fill the free slots in name order, and those left over overflow or are
 * refused. A node whose interface is not known yet waits and takes no slot.
 */
export function planRoutes(input: PlanInput): RoutePlan {
  const cluster = parseCidr(input.clusterCIDR, { loose: true });
  const inCluster = (r: TableRoute): boolean => {
    const dst = tryParseCidr(r.destination, { loose: true });
    return dst !== undefined && containsCidr(cluster, dst);
  };
  const known = input.nodes
    .filter((n) => n.networkInterfaceId !== undefined)
    .map((n) => ({ ...n, podCIDR: canonical(n.podCIDR) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // Free slots: the limit less the routes podnet does not own, in the fullest table.
  const foreign = Math.max(
    0,
    ...input.tables.map((t) => t.routes.filter((r) => !inCluster(r)).length),
  );
  const slots = Math.max(0, input.routeLimit - foreign);
  const holds = (n: RoutedNode): boolean =>
    input.tables.some((t) =>
      t.routes.some((r) => r.state === 'active' && canonical(r.destination) === n.podCIDR),
    );
  const ordered = [...known.filter(holds), ...known.filter((n) => !holds(n))];
  const routed = ordered.slice(0, slots);
  const left = ordered.slice(slots);

  const placements = new Map<string, CloudPlacement>();
  for (const n of routed) placements.set(n.name, 'routed');
  const rest: CloudPlacement = input.overflow === 'vxlan' ? 'overflow' : 'refused';
  for (const n of left) placements.set(n.name, rest);

  const calls: RouteCall[] = [];
  const replaces: RouteCall[] = [];
  const creates: RouteCall[] = [];
  for (const table of input.tables) {
    const want = new Map(routed.map((n) => [n.podCIDR, n.networkInterfaceId!]));
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
  if (left.length > 0) {
    const fullest = input.tables.reduce((a, b) =>
      b.routes.filter((r) => !inCluster(r)).length > a.routes.filter((r) => !inCluster(r)).length
        ? b
        : a,
    );
    shortfall = { table: fullest.id, count: foreign + routed.length, limit: input.routeLimit };
  }
  return { calls, placements, shortfall };
}

function canonical(cidr: string): string {
  const parsed = tryParseCidr(cidr, { loose: true });
  return parsed ? formatCidr(parsed) : cidr;
}
