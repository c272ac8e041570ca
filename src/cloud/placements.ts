// How each node's pod subnet is carried in cloud mode, as `podnet plan` shows it: by the
// cloud's route tables (routed), over VXLAN past the quota (overflow), by nothing past the
// quota (refused), or not yet (the route controller has not placed it).
import { ANNOTATION_CLOUD_ROUTE, type Node } from '../api/types.js';

export interface NodePlacement {
  node: string;
  podCIDR: string;
  placement: 'routed' | 'overflow vxlan' | 'refused' | 'waiting';
  /** The route controller's NetworkUnavailable message. */
  detail: string;
}

export function cloudPlacements(nodes: readonly Node[]): NodePlacement[] {
  return [...nodes]
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((n) => {
      const placed = n.metadata.annotations?.[ANNOTATION_CLOUD_ROUTE];
      const condition = n.status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
      return {
        node: n.metadata.name,
        podCIDR: n.spec.podCIDR ?? '',
        placement:
          placed === 'routed' || placed === 'refused'
            ? placed
            : placed === 'overflow'
              ? 'overflow vxlan'
              : 'waiting',
        detail: condition?.message ?? '',
      };
    });
}

/** `# node-1 10.244.1.0/24: routed (...)` lines for the plan's text output. */
export function placementLines(rows: readonly NodePlacement[]): string[] {
  return rows.map(
    (r) =>
      `# ${r.node} ${r.podCIDR || '(no subnet)'}: ${r.placement}${r.detail ? ` (${r.detail})` : ''}`,
  );
}
