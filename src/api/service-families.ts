// Which address families a Service gets, decided as Kubernetes decides them: from its
// ipFamilyPolicy, ipFamilies and any clusterIPs it asks for, against the cluster's service
// families (primary first). Pure: validation reports the problems, IPAM allocates the plan.
import { AddressError, parseIP, tryParseIP, type Family, type IP } from '../net/index.js';
import { FAMILY_NAMES, FAMILY_OF_NAME } from './cluster-families.js';
import type { IPFamilyPolicy, Service } from './types.js';

export interface ServiceFamilyPlan {
  policy: IPFamilyPolicy;
  /** The service's families in order: clusterIPs[i] is of families[i]. */
  families: Family[];
  /** The address asked for per family (clusterIPs[i]), undefined where any will do. */
  requested: (IP | undefined)[];
}

export type ServiceFamilyDecision =
  { plan: ServiceFamilyPlan; problem?: undefined } | { plan?: undefined; problem: string };

const isDual = (policy: IPFamilyPolicy): boolean => policy !== 'SingleStack';

/** The addresses the service asks for: clusterIPs, or clusterIP alone (none when headless). */
function requestedAddresses(spec: Service['spec']): string[] {
  const given = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
  return given.filter((ip) => ip !== '' && ip !== 'None');
}

/**
 * The service's families and requested addresses, or the first problem as one line naming the
 * field. `clusterFamilies` are the families of the cluster's service CIDRs, primary first.
 */
export function planServiceFamilies(
  spec: Service['spec'],
  clusterFamilies: readonly Family[],
): ServiceFamilyDecision {
  const problem = (text: string): ServiceFamilyDecision => ({ problem: text });
  const ips = spec.clusterIPs ?? [];
  if (spec.clusterIP !== undefined && ips.length > 0 && ips[0] !== spec.clusterIP) {
    return problem(
      `spec.clusterIPs[0]: must equal spec.clusterIP ${JSON.stringify(spec.clusterIP)}, got ${JSON.stringify(ips[0])}`,
    );
  }
  if (ips.includes('None') && ips.length > 1) {
    return problem('spec.clusterIPs: must be just ["None"] for a headless service');
  }
  const texts = requestedAddresses(spec);
  const bad = texts.findIndex((t) => tryParseIP(t) === undefined);
  if (bad >= 0) {
    const field = spec.clusterIPs ? `spec.clusterIPs[${bad}]` : 'spec.clusterIP';
    return problem(`${field} ${addressProblem(texts[bad]!)}`);
  }
  const addresses = texts.map((t) => tryParseIP(t)!);
  const named = (spec.ipFamilies ?? []).map((f) => FAMILY_OF_NAME[f]);
  const policy =
    spec.ipFamilyPolicy ??
    (named.length > 1 || addresses.length > 1 ? 'RequireDualStack' : 'SingleStack');
  if (policy === 'SingleStack' && (named.length > 1 || addresses.length > 1)) {
    const field = named.length > 1 ? 'spec.ipFamilies' : 'spec.clusterIPs';
    return problem(
      `spec.ipFamilyPolicy: must be PreferDualStack or RequireDualStack when ${field} lists two, got SingleStack`,
    );
  }
  if (named.length > 1 && named[0] === named[1]) {
    return problem(`spec.ipFamilies[1]: duplicate family ${FAMILY_NAMES[named[1]!]}`);
  }
  if (addresses.length > 1 && addresses[0]!.family === addresses[1]!.family) {
    return problem(
      `spec.clusterIPs[1]: must be of the other family than spec.clusterIPs[0], got ${JSON.stringify(ips[1])}`,
    );
  }
  for (const [i, ip] of addresses.entries()) {
    if (named[i] !== undefined && named[i] !== ip.family) {
      return problem(
        `spec.ipFamilies[${i}]: must be ${FAMILY_NAMES[ip.family]}, the family of spec.clusterIPs[${i}] ${JSON.stringify(ips[i] ?? spec.clusterIP)}, got ${FAMILY_NAMES[named[i]!]}`,
      );
    }
  }
  const asked = named.length >= addresses.length ? named : addresses.map((ip) => ip.family);
  for (const [i, family] of asked.entries()) {
    if (clusterFamilies.includes(family)) continue;
    const field = i < named.length ? `spec.ipFamilies[${i}]` : `spec.clusterIPs[${i}]`;
    return problem(
      `${field}: ${FAMILY_NAMES[family]} is not a service family of this cluster (ClusterNetwork serviceCIDRs has ${clusterFamilies.map((f) => FAMILY_NAMES[f]).join(' and ')})`,
    );
  }
  if (policy === 'RequireDualStack' && clusterFamilies.length < 2) {
    return problem(
      `spec.ipFamilyPolicy: RequireDualStack needs a dual-stack cluster, and ClusterNetwork serviceCIDRs has only ${FAMILY_NAMES[clusterFamilies[0]!]} (use PreferDualStack or SingleStack)`,
    );
  }
  const families = asked.length > 0 ? [...asked] : [clusterFamilies[0]!];
  if (isDual(policy)) {
    for (const f of clusterFamilies) if (!families.includes(f)) families.push(f);
  }
  return {
    plan: { policy, families, requested: families.map((_, i) => addresses[i]) },
  };
}

/** Why a text is no address, as net words it: `"ten": not an IPv4 or IPv6 address`. */
function addressProblem(text: string): string {
  try {
    parseIP(text);
    return JSON.stringify(text);
  } catch (err) {
    if (err instanceof AddressError) return err.message;
    throw err;
  }
}

/** The Kubernetes names of a plan's families, for spec.ipFamilies. */
export function familyNames(plan: ServiceFamilyPlan): Service['spec']['ipFamilies'] {
  return plan.families.map((f) => FAMILY_NAMES[f]);
}
