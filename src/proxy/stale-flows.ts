// Which conntrack entries to delete after a sync: UDP (and SCTP) flows to endpoints that no
// longer serve the service port. TCP needs nothing: a removed pod's connections reset.
import type { StaleFlow } from '../kernel/conntrack.js';
import { endpointText, portKey, type ServicePortRule } from './model.js';

export function staleFlows(before: ServicePortRule[], after: ServicePortRule[]): StaleFlow[] {
  if (!before.some((r) => r.protocol !== 'TCP')) return [];
  const now = new Map(after.filter((r) => r.protocol !== 'TCP').map((r) => [portKey(r), r]));
  const out: StaleFlow[] = [];
  for (const old of before) {
    if (old.protocol === 'TCP') continue;
    const protocol = old.protocol === 'UDP' ? 'udp' : 'sctp';
    const current = now.get(portKey(old));
    const kept = new Set(
      current?.clusterIP === old.clusterIP && current.port === old.port
        ? current.endpoints.map(endpointText)
        : [],
    );
    for (const ep of old.endpoints) {
      if (kept.has(endpointText(ep))) continue;
      out.push({ protocol, serviceIP: old.clusterIP, port: old.port, endpointIP: ep.ip });
      if (old.nodePort) out.push({ protocol, port: old.nodePort, endpointIP: ep.ip });
    }
  }
  return out;
}
