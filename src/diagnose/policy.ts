// The NetworkPolicy step of `podnet trace`: the evaluator's verdict on the first packet of the
// connection, after the service DNAT, read out as the policies that decide it. Pure.
import type { Protocol } from '../api/types.js';
import type { DirectionVerdict, Verdict } from '../policy/evaluate.js';
import type { Hop } from './trace.js';

export interface PolicyHopInput {
  verdict: Verdict;
  /** How the two ends are named in the output (pod name or address). */
  source: string;
  destination: string;
  protocol: Protocol;
  port: number;
}

function side(name: string, direction: 'egress' | 'ingress', v?: DirectionVerdict): string {
  if (!v) return '';
  if (v.fromOwnNode) return `ingress of ${name} from its own node (always allowed)`;
  if (!v.isolated) return `${direction} of ${name}: no policy isolates it`;
  return `${direction} of ${name} allowed by ${v.policies.join(', ')}`;
}

/** `policy` hop: which policies allow the connection, or the first direction that denies it. */
export function policyHop(p: PolicyHopInput): Hop {
  const what = `${p.protocol} ${p.destination}:${p.port}`;
  const { verdict } = p;
  if (!verdict.allowed) {
    const direction = verdict.direction === 'Egress' ? 'egress' : 'ingress';
    const whose = verdict.direction === 'Egress' ? p.source : p.destination;
    return {
      step: 'policy',
      ok: false,
      detail: `${what} denied by ${verdict.by.join(', ')} (${direction} of ${whose})`,
    };
  }
  const sides = [
    side(p.source, 'egress', verdict.egress),
    side(p.destination, 'ingress', verdict.ingress),
  ].filter(Boolean);
  return {
    step: 'policy',
    ok: true,
    detail: `${what} allowed${sides.length ? `: ${sides.join('; ')}` : ''}`,
  };
}
