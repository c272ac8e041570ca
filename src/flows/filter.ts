// Which flows `podnet flows` shows, and the line it prints for each (`hubble observe`'s habit:
// time, source → service → destination, protocol and port, path, verdict, counters).
import type { Flow, FlowEnd, FlowVerdict } from './types.js';

export const VERDICTS: readonly FlowVerdict[] = ['forwarded', 'refused', 'denied'];

export interface FlowFilter {
  namespace?: string;
  /** A pod name (in `namespace` when given): either end. */
  pod?: string;
  service?: string;
  verdict?: FlowVerdict;
}

export function matchesFlow(flow: Flow, f: FlowFilter): boolean {
  if (f.verdict && flow.verdict !== f.verdict) return false;
  const pods = [flow.source.pod, flow.destination.pod].filter((p): p is string => !!p);
  const namespaces = [...pods.map((p) => p.split('/')[0]), flow.service?.namespace];
  if (f.namespace && !namespaces.includes(f.namespace)) return false;
  if (f.pod && !pods.some((p) => nameMatches(p, f.pod!, f.namespace))) return false;
  if (f.service) {
    const svc = flow.service && `${flow.service.namespace}/${flow.service.name}`;
    if (!svc || !nameMatches(svc, f.service, f.namespace)) return false;
  }
  return true;
}

/** `name` or `namespace/name` against a qualified name. */
function nameMatches(qualified: string, wanted: string, namespace?: string): boolean {
  if (wanted.includes('/')) return qualified === wanted;
  const [ns, name] = qualified.split('/');
  return name === wanted && (!namespace || ns === namespace);
}

/** One line per flow, e.g.
 * `10:00:00.123 my-namespace/client:40918 → my-namespace/my-svc:80 → my-namespace/echo-2:8080 tcp vxlan forwarded ↑412B ↓880B` */
export function flowLine(flow: Flow): string {
  const time = flow.start.slice(11, 23);
  const hops = [endText(flow.source)];
  if (flow.service)
    hops.push(`${flow.service.namespace}/${flow.service.name}:${flow.service.port}`);
  if (flow.verdict === 'forwarded' || !flow.service) hops.push(endText(flow.destination));
  const verdict = verdictText(flow);
  const parts = [time, hops.join(' → '), flow.protocol, flow.path, verdict];
  if (flow.traffic) parts.push(`↑${flow.traffic.sent.bytes}B ↓${flow.traffic.received.bytes}B`);
  else if (flow.state === 'open' && !flow.end) parts.push('open');
  return parts.join(' ');
}

/** `forwarded`, `refused (no endpoints)`, `denied by x/deny-all (ingress of x/a)`. */
function verdictText(flow: Flow): string {
  const by = flow.policies?.length ? ` by ${flow.policies.join(', ')}` : '';
  return `${flow.verdict}${by}${flow.reason ? ` (${flow.reason})` : ''}`;
}

function endText(end: FlowEnd): string {
  return `${end.pod ?? end.ip}:${end.port}`;
}
