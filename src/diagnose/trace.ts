// `podnet trace`: the path a packet from a pod takes to a destination, as the kernel will take
// it, and the first step that is broken. Pure: the facts read along the path in, hops and a
// verdict out.
import type { RouteDecision, TunnelHop } from '../kernel/path-facts.js';
import type { LinkFact } from '../kernel/host-facts.js';

export interface Hop {
  step: 'dns' | 'service' | 'route' | 'encapsulation' | 'forward' | 'delivery';
  ok: boolean;
  detail: string;
}

export interface ServiceFacts {
  name: string;
  clusterIP: string;
  port: number;
  /** Ready endpoints (pod IP:port) the service rule chooses among. */
  endpoints: { pod: string; ip: string; port: number; node?: string }[];
  ruleProgrammed: boolean;
  mode: 'iptables' | 'nftables';
}

export interface HostPathFacts {
  node: string;
  route: RouteDecision;
  links: LinkFact[];
  forwardPolicy?: string;
  forwardAccepts: boolean;
  tunnel?: TunnelHop;
  /** Strict reverse-path filtering on the device the packet arrives by. */
  rpFilterStrict?: boolean;
}

export interface PathFacts {
  source: { pod: string; ip: string; node: string; mtu?: number };
  destination: { ip: string; pod?: string; node?: string; nodeIP?: string };
  /** The source host's view: route, devices, FORWARD chain, tunnel entries. */
  sourceHost: HostPathFacts;
  /** The destination host's view, with the route looked up as the packet arrives (rp_filter). */
  destinationHost?: HostPathFacts;
}

const forwardHop = (h: HostPathFacts): Hop | undefined =>
  h.forwardPolicy === 'DROP' && !h.forwardAccepts
    ? {
        step: 'forward',
        ok: false,
        detail: `${h.node}: iptables FORWARD policy is DROP and nothing accepts pod traffic (see 'podnet doctor --node ${h.node}')`,
      }
    : undefined;

/** Hops for one pod-to-pod path (after any service choice). */
export function tracePath(f: PathFacts): Hop[] {
  const hops: Hop[] = [];
  const src = f.sourceHost;
  if (!src.route.ok) {
    return [
      {
        step: 'route',
        ok: false,
        detail: `${src.node}: the kernel has no route to ${f.destination.ip}: ${src.route.error}`,
      },
    ];
  }
  const via = src.route.gateway ? ` via ${src.route.gateway}` : '';
  const sameHost = f.destination.node === src.node;
  const dev = src.route.dev ?? '?';
  const tunnelDev = src.links.find(
    (l) => l.ifname === dev && (l.kind === 'vxlan' || l.kind === 'ipip'),
  );
  // Off the host and not into a tunnel, the next hop must be the owning host itself; any other
  // gateway (the default route's router) means podnet's route for that subnet is missing.
  const strayGateway =
    !sameHost &&
    !tunnelDev &&
    f.destination.nodeIP !== undefined &&
    src.route.gateway !== f.destination.nodeIP;
  const kind = sameHost
    ? 'same host'
    : tunnelDev
      ? 'tunnel'
      : `direct to ${f.destination.node ?? '?'}`;
  hops.push(
    strayGateway
      ? {
          step: 'route',
          ok: false,
          detail: `${src.node}: no podnet route to ${f.destination.ip} (${f.destination.node}'s subnet): it falls to${via} dev ${dev}, not to ${f.destination.nodeIP}`,
        }
      : {
          step: 'route',
          ok: !(sameHost && !dev.startsWith('pn')),
          detail: `${src.node}: ${f.destination.ip}${via} dev ${dev} (${kind})`,
        },
  );
  if (tunnelDev) {
    const t = src.tunnel ?? {};
    const mtuOk = f.source.mtu === undefined || f.source.mtu <= tunnelDev.mtu;
    hops.push({
      step: 'encapsulation',
      ok: Boolean(t.mac && t.outerDst) && mtuOk,
      detail: !t.mac
        ? `${dev}: no neighbour entry for ${src.route.gateway}: the tunnel hop is missing`
        : !t.outerDst
          ? `${dev}: no FDB entry for ${t.mac}: the outer destination is unknown`
          : !mtuOk
            ? `${dev} MTU ${tunnelDev.mtu} is smaller than the pod's MTU ${f.source.mtu}: large packets are dropped`
            : `${tunnelDev.kind} ${dev} VNI ${tunnelDev.vxlan?.id ?? '-'} port ${tunnelDev.vxlan?.port ?? '-'}: inner → ${t.mac}, outer ${tunnelDev.vxlan?.local ?? src.route.prefsrc ?? '?'} → ${t.outerDst}, MTU ${tunnelDev.mtu}`,
    });
  }
  const srcForward = forwardHop(src);
  if (srcForward) hops.push(srcForward);
  const dst = f.destinationHost;
  if (dst && !sameHost) {
    const fwd = forwardHop(dst);
    if (fwd) hops.push(fwd);
    hops.push(
      dst.route.ok
        ? {
            step: 'delivery',
            ok: Boolean(dst.route.dev?.startsWith('pn')),
            detail: `${dst.node}: ${f.destination.ip} dev ${dst.route.dev}${dst.route.dev?.startsWith('pn') ? ` (the pod's veth${f.destination.pod ? `, ${f.destination.pod}` : ''})` : ': not a pod veth'}`,
          }
        : {
            step: 'delivery',
            ok: false,
            detail: dst.rpFilterStrict
              ? `${dst.node}: rp_filter drops the packet arriving on its underlay/tunnel device (${dst.route.error}); set rp_filter to 2 there`
              : `${dst.node}: cannot deliver to ${f.destination.ip}: ${dst.route.error}`,
          },
    );
  }
  return hops;
}

export function serviceHop(s: ServiceFacts): Hop {
  if (s.endpoints.length === 0) {
    return {
      step: 'service',
      ok: false,
      detail: `${s.name} ${s.clusterIP}:${s.port} has no ready endpoints: connections are refused`,
    };
  }
  if (!s.ruleProgrammed) {
    return {
      step: 'service',
      ok: false,
      detail: `${s.name} ${s.clusterIP}:${s.port}: no ${s.mode} rule on the source host yet (is its agent running?)`,
    };
  }
  const p = (100 / s.endpoints.length).toFixed(1);
  const list = s.endpoints.map((e) => `${e.pod} ${e.ip}:${e.port} (${p} %)`).join(', ');
  return {
    step: 'service',
    ok: true,
    detail: `${s.name} ${s.clusterIP}:${s.port} → DNAT at random (${s.mode}) to ${list}`,
  };
}

export function verdict(hops: Hop[]): { ok: boolean; text: string } {
  const broken = hops.find((h) => !h.ok);
  return broken
    ? { ok: false, text: `BROKEN at ${broken.step}: ${broken.detail}` }
    : { ok: true, text: 'OK: the kernel delivers this path' };
}
