// CHECK's judgement: does what the kernel has still match what ADD set up? Pure, so each
// way a pod's wiring can drift is named and unit-tested. A dual-stack pod is checked on both
// families: its IPv6 address is a /128 whose default route goes via the link-local gateway
// every host veth carries, and the host reaches it by a /128 route.
import type { PodVethState } from '../kernel/pod-veth.js';

export interface ExpectedPod {
  podIP: string;
  gateway: string;
  ifname: string;
  hostVeth: string;
  /** On a dual-stack node: the pod's IPv6 address and its (link-local) gateway. */
  ipv6?: { podIP: string; gateway: string };
}

/** Everything that differs from what ADD set up, one line each; empty when all is well. */
export function wiringProblems(want: ExpectedPod, have: PodVethState): string[] {
  const problems: string[] = [];
  if (!have.podAddresses.includes(`${want.podIP}/32`)) {
    problems.push(`${want.ifname} no longer has ${want.podIP}/32`);
  }
  const gwRoute = have.podRoutes.some((r) => r.dst === want.gateway && r.dev === want.ifname);
  if (!gwRoute) problems.push(`the pod's route to the gateway ${want.gateway} is missing`);
  problems.push(...defaultRouteProblems(want.gateway, want.ifname, have));
  problems.push(...hostRouteProblems(want.podIP, 32, want.hostVeth, have));
  if (want.ipv6) {
    const { podIP, gateway } = want.ipv6;
    if (!have.podAddresses.includes(`${podIP}/128`)) {
      problems.push(`${want.ifname} no longer has ${podIP}/128`);
    }
    problems.push(...defaultRouteProblems(gateway, want.ifname, have));
    problems.push(...hostRouteProblems(podIP, 128, want.hostVeth, have));
  }
  return problems;
}

function defaultRouteProblems(gateway: string, ifname: string, have: PodVethState): string[] {
  const there = have.podRoutes.some(
    (r) => r.dst === 'default' && r.gateway === gateway && r.dev === ifname,
  );
  return there ? [] : [`the pod's default route via ${gateway} is missing`];
}

function hostRouteProblems(
  podIP: string,
  prefix: number,
  hostVeth: string,
  have: PodVethState,
): string[] {
  const there = have.hostRoutes.some(
    (r) => r.dst === podIP && r.dev === hostVeth && r.protocol === '80',
  );
  return there ? [] : [`the host route ${podIP}/${prefix} dev ${hostVeth} proto 80 is missing`];
}

/** The addresses in a prevResult (any supported cniVersion's shape). */
export function prevResultAddresses(prevResult: unknown): string[] {
  const ips = (prevResult as { ips?: { address?: unknown }[] } | undefined)?.ips ?? [];
  return ips.flatMap((ip) => (typeof ip.address === 'string' ? [ip.address] : []));
}
