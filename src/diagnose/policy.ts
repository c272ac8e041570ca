// The NetworkPolicy step of `podnet trace`: the evaluator's verdict on the first packet of the
// connection, after the service DNAT, read out as the policies that decide it (an admin
// policy by its rule, `anp/NAME rule RULE`). Pure.
import type { Protocol } from '../api/types.js';
import type { AdminDecision, DirectionVerdict, Verdict } from '../policy/evaluate.js';
import type { Hop } from './trace.js';

export interface PolicyHopInput {
  verdict: Verdict;
  /** How the two ends are named in the output (pod name or address). */
  source: string;
  destination: string;
  protocol: Protocol;
  port: number;
}

const ruleText = (d: AdminDecision): string => `${d.policy} rule ${d.rule}`;

/** Who decided one direction: the admin rule, or the NetworkPolicies (and who passed it on). */
function deciders(v: DirectionVerdict): string {
  if (v.admin) return ruleText(v.admin);
  const passed = v.passedBy ? ` (passed on by ${ruleText(v.passedBy)})` : '';
  return `${v.policies.join(', ')}${passed}`;
}

function side(name: string, direction: 'egress' | 'ingress', v?: DirectionVerdict): string {
  if (!v) return '';
  if (v.fromOwnNode) return `ingress of ${name} from its own node (always allowed)`;
  if (!v.isolated && !v.admin) {
    const passed = v.passedBy ? ` (passed on by ${ruleText(v.passedBy)})` : '';
    return `${direction} of ${name}: no policy isolates it${passed}`;
  }
  return `${direction} of ${name} allowed by ${deciders(v)}`;
}

/** `policy` hop: which policies allow the connection, or the first direction that denies it. */
export function policyHop(p: PolicyHopInput): Hop {
  const what = `${p.protocol} ${p.destination}:${p.port}`;
  const { verdict } = p;
  if (!verdict.allowed) {
    const direction = verdict.direction === 'Egress' ? 'egress' : 'ingress';
    const whose = verdict.direction === 'Egress' ? p.source : p.destination;
    const denying = verdict.direction === 'Egress' ? verdict.egress : verdict.ingress;
    return {
      step: 'policy',
      ok: false,
      detail: `${what} denied by ${denying ? deciders(denying) : verdict.by.join(', ')} (${direction} of ${whose})`,
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
