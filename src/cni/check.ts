// CHECK's judgement: does what the kernel has still match what ADD set up? Pure, so each
// way a pod's wiring can drift is named and unit-tested.
import type { PodVethState } from '../kernel/pod-veth.js';

export interface ExpectedPod {
  podIP: string;
  gateway: string;
  ifname: string;
  hostVeth: string;
}

/** Everything that differs from what ADD set up, one line each; empty when all is well. */
export function wiringProblems(want: ExpectedPod, have: PodVethState): string[] {
  const problems: string[] = [];
  if (!have.podAddresses.includes(`${want.podIP}/32`)) {
    problems.push(`${want.ifname} no longer has ${want.podIP}/32`);
  }
  const gwRoute = have.podRoutes.some((r) => r.dst === want.gateway && r.dev === want.ifname);
  if (!gwRoute) problems.push(`the pod's route to the gateway ${want.gateway} is missing`);
  const defaultRoute = have.podRoutes.some(
    (r) => r.dst === 'default' && r.gateway === want.gateway && r.dev === want.ifname,
  );
  if (!defaultRoute) problems.push(`the pod's default route via ${want.gateway} is missing`);
  const hostRoute = have.hostRoutes.some(
    (r) => r.dst === want.podIP && r.dev === want.hostVeth && r.protocol === '80',
  );
  if (!hostRoute) {
    problems.push(`the host route ${want.podIP}/32 dev ${want.hostVeth} proto 80 is missing`);
  }
  return problems;
}

/** The first address in a prevResult, if it has one (any supported cniVersion's shape). */
export function prevResultAddress(prevResult: unknown): string | undefined {
  const ips = (prevResult as { ips?: { address?: unknown }[] } | undefined)?.ips;
  const address = ips?.[0]?.address;
  return typeof address === 'string' ? address : undefined;
}
