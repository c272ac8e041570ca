// What the route controller tells each Node and `podnet doctor`: Kubernetes' NetworkUnavailable
// condition (RouteCreated / NoRouteCreated, as its route controller sets it), and for a node
// past the quota the table, the count, the quota and the two ways out.
import type { CloudPlacement, NodeCondition } from '../api/types.js';
import type { QuotaShortfall } from './routes.js';

/** AWS's quota code for "Routes per route table" and its ceiling. */
export const ROUTE_QUOTA_CODE = 'L-93826ACB';
export const ROUTE_QUOTA_CEILING = 1000;

export function quotaLine(s: QuotaShortfall): string {
  return (
    `route table ${s.table} is full: ${s.count} of ${s.limit} routes (AWS quota ${ROUTE_QUOTA_CODE}); ` +
    `raise the quota (at most ${ROUTE_QUOTA_CEILING.toLocaleString('en')}) and spec.cloud.routeLimit, ` +
    `or set spec.cloud.overflow: vxlan`
  );
}

export function cloudRouteCondition(
  placement: CloudPlacement | undefined,
  detail: { tables: readonly string[]; podCIDR: string; shortfall?: QuotaShortfall },
): Omit<NodeCondition, 'lastTransitionTime'> {
  const base = { type: 'NetworkUnavailable' };
  switch (placement) {
    case 'routed':
      return {
        ...base,
        status: 'False',
        reason: 'RouteCreated',
        message: `${detail.tables.join(', ')} route ${detail.podCIDR} to this node`,
      };
    case 'overflow':
      return {
        ...base,
        status: 'False',
        reason: 'NoRouteCreated',
        message: `no cloud route: ${detail.shortfall ? quotaLine(detail.shortfall) : 'the route table is full'}; peers reach ${detail.podCIDR} over VXLAN meanwhile`,
      };
    case 'refused':
      return {
        ...base,
        status: 'True',
        reason: 'NoRouteCreated',
        message: `no cloud route for ${detail.podCIDR}: ${detail.shortfall ? quotaLine(detail.shortfall) : 'the route table is full'}`,
      };
    default:
      return {
        ...base,
        status: 'True',
        reason: 'NoRouteCreated',
        message: 'waiting for this node to publish its cloud network interface',
      };
  }
}
