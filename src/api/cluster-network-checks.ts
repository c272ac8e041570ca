// The ClusterNetwork's address settings checked per family, each problem one line naming the
// field as it was given (`spec.clusterCIDR` or `spec.clusterCIDRs[1]`). IPv4 is the primary
// family of a dual-stack cluster; an IPv6-only cluster (pods and services IPv6 alone) has IPv6
// in the singular fields, which are always the lists' first entries.
import {
  containsIP,
  formatCidr,
  overlaps,
  tryParseCidr,
  tryParseIP,
  type Cidr,
  type Family,
} from '../net/index.js';
import {
  FAMILY_NAMES,
  clusterCIDRsOf,
  dnsIPsOf,
  nodeSubnetPrefixOf,
  serviceCIDRsOf,
} from './cluster-families.js';
import type { ClusterNetwork } from './types.js';

type Spec = ClusterNetwork['spec'];

/** One family list as given: its entries, how each is named, and the parsed family of each. */
interface FamilyList {
  singular: 'clusterCIDR' | 'serviceCIDR' | 'dnsIP';
  plural: 'clusterCIDRs' | 'serviceCIDRs' | 'dnsIPs';
  what: string;
  entries: string[];
  families: (Family | undefined)[];
}

function familyList(
  singular: FamilyList['singular'],
  plural: FamilyList['plural'],
  entries: string[],
  parse: (text: string) => { family: Family } | undefined,
): FamilyList {
  const what = singular === 'dnsIP' ? 'address' : 'network';
  return { singular, plural, what, entries, families: entries.map((e) => parse(e)?.family) };
}

function fieldName(spec: Spec, list: FamilyList, i: number): string {
  return spec[list.plural] === undefined ? `spec.${list.singular}` : `spec.${list.plural}[${i}]`;
}

/**
 * The first problem of a list's shape: singular vs first entry, IPv4 first unless the cluster
 * is IPv6-only, one per family.
 */
function listProblem(spec: Spec, list: FamilyList, ipv6Only: boolean): string | undefined {
  const given = spec[list.plural];
  if (given !== undefined && spec[list.singular] !== given[0]) {
    return `spec.${list.singular}: must equal spec.${list.plural}[0] ${JSON.stringify(given[0])} (the singular field is the list's first entry), got ${JSON.stringify(spec[list.singular])}`;
  }
  const [first, second] = list.entries;
  if (list.families[0] === 6 && !ipv6Only) {
    return `${fieldName(spec, list, 0)}: must be an IPv4 ${list.what} (IPv4 is the primary family unless pods and services are both IPv6 alone; an IPv6 one may follow it), got ${JSON.stringify(first)}`;
  }
  if (second !== undefined && list.families[1] === list.families[0]) {
    return `${fieldName(spec, list, 1)}: must be an IPv6 ${list.what} (at most one per family), got ${JSON.stringify(second)}`;
  }
  return undefined;
}

export function clusterFamilyProblems(spec: Spec): string[] {
  const clusters = familyList('clusterCIDR', 'clusterCIDRs', clusterCIDRsOf(spec), (t) =>
    tryParseCidr(t),
  );
  const services = familyList('serviceCIDR', 'serviceCIDRs', serviceCIDRsOf(spec), (t) =>
    tryParseCidr(t),
  );
  const dns = familyList('dnsIP', 'dnsIPs', dnsIPsOf(spec), (t) => tryParseIP(t));
  const ipv6Only = [clusters, services].every((l) => l.families.every((f) => f === 6));
  const shapes = [clusters, services, dns].flatMap((l) => listProblem(spec, l, ipv6Only) ?? []);
  if (shapes.length > 0) return shapes;

  const problems: string[] = [];
  const clusterCIDRs = clusters.entries.map((t) => tryParseCidr(t)!);
  const serviceCIDRs = services.entries.map((t) => tryParseCidr(t)!);
  const clusterOf = (family: Family): Cidr | undefined =>
    clusterCIDRs.find((c) => c.family === family);
  clusterCIDRs.forEach((cluster) => {
    const prefix = nodeSubnetPrefixOf(spec, cluster.family);
    if (prefix >= cluster.prefix) return;
    const field = cluster.family === 4 ? 'nodeSubnetPrefix' : 'nodeSubnetPrefixIPv6';
    const which = spec.clusterCIDRs
      ? `${FAMILY_NAMES[cluster.family]} clusterCIDRs entry`
      : 'clusterCIDR';
    problems.push(
      `spec.${field}: must be at least the ${which} prefix /${cluster.prefix}, got ${prefix}`,
    );
  });
  serviceCIDRs.forEach((range, i) => {
    const cluster = clusterOf(range.family);
    const field = fieldName(spec, services, i);
    if (cluster === undefined) {
      problems.push(
        `${field}: the pods have no ${FAMILY_NAMES[range.family]} network for ${FAMILY_NAMES[range.family]} services to reach (add one to spec.clusterCIDRs), got ${JSON.stringify(services.entries[i])}`,
      );
    } else if (overlaps(cluster, range)) {
      problems.push(
        `${field}: must not overlap the cluster CIDR ${formatCidr(cluster)} (pods and services need their own addresses), got ${JSON.stringify(services.entries[i])}`,
      );
    }
  });
  dns.entries.forEach((text, i) => {
    const ip = tryParseIP(text)!;
    const range = serviceCIDRs.find((c) => c.family === ip.family);
    if (range && containsIP(range, ip)) return;
    const where = range
      ? `the service CIDR ${spec.serviceCIDRs ? formatCidr(range) : spec.serviceCIDR}`
      : `an ${FAMILY_NAMES[ip.family]} service CIDR, and the cluster has none`;
    problems.push(
      `${fieldName(spec, dns, i)}: must be inside ${where}, got ${JSON.stringify(text)}`,
    );
  });
  return problems;
}
