// Flows on the map: the recent connections drawn as edges from the client's pod to the pod
// that served it (to the service, when none did), one edge per pair with its rate. Pure: flows
// and a clock in, edges out; the browser draws the ones whose ends are on the map.
import type { Flow, FlowVerdict } from '../../flows/types.js';
import { podId, serviceId } from './map-model.js';

export interface FlowEdge {
  id: string;
  /** Map element ids of the two ends (pods, or a service for a refused connection). */
  source: string;
  target: string;
  /** The namespaces of both ends and the service, for the namespace filter. */
  namespaces: string[];
  /** Connections that began within the window. */
  connections: number;
  /** Connections a second over the window. */
  rate: number;
  /** The worst verdict among them: denied over refused over forwarded. */
  verdict: FlowVerdict;
}

const SEVERITY: Record<FlowVerdict, number> = { forwarded: 0, refused: 1, denied: 2 };

function podElement(pod: string | undefined): string | undefined {
  if (!pod) return undefined;
  const [namespace, name] = pod.split('/');
  return podId(namespace!, name!);
}

/** The map element ids a flow runs between, or undefined when either end is no pod or service. */
export function flowEnds(flow: Flow): { source: string; target: string } | undefined {
  const source = podElement(flow.source.pod);
  const service = flow.service ? serviceId(flow.service.namespace, flow.service.name) : undefined;
  const target =
    flow.verdict === 'refused' ? service : (podElement(flow.destination.pod) ?? service);
  return source && target ? { source, target } : undefined;
}

/** One edge per pair of ends with connections that began in the last `windowMs`. */
export function flowEdges(flows: Iterable<Flow>, nowMs: number, windowMs: number): FlowEdge[] {
  const edges = new Map<string, FlowEdge>();
  for (const flow of flows) {
    if (nowMs - Date.parse(flow.start) > windowMs) continue;
    const ends = flowEnds(flow);
    if (!ends) continue;
    const id = `flow/${ends.source}/${ends.target}`;
    const edge = edges.get(id) ?? {
      id,
      ...ends,
      namespaces: [],
      connections: 0,
      rate: 0,
      verdict: 'forwarded' as FlowVerdict,
    };
    edge.connections++;
    edge.rate = edge.connections / (windowMs / 1000);
    if (SEVERITY[flow.verdict] > SEVERITY[edge.verdict]) edge.verdict = flow.verdict;
    const namespaces = [flow.source.pod, flow.destination.pod]
      .filter((p): p is string => !!p)
      .map((p) => p.split('/')[0]!);
    if (flow.service) namespaces.push(flow.service.namespace);
    edge.namespaces = [...new Set([...edge.namespaces, ...namespaces])].sort();
    edges.set(id, edge);
  }
  return [...edges.values()];
}
