// `podnet trace`: the path a packet from a pod takes to a destination, as the kernel will take
// it, there and back, and the first step that is broken. A reply that cannot come back breaks
// a connection as surely as a request that cannot go out, so both directions are walked with
// the same rules. Pure: the facts read along the path in, hops and a verdict out.
import type { RouteDecision, TunnelHop } from '../kernel/path-facts.js';
import type { LinkFact, RouteFact } from '../kernel/host-facts.js';
import {
  cidrOf,
  containsIP,
  familyBits,
  tryParseCidr,
  tryParseIP,
  type Family,
} from '../net/index.js';
import { backendAdvice } from '../routing/advice.js';
import { WIREGUARD_DEVICE, WIREGUARD_PORT } from '../routing/backends/wireguard.js';

export type Direction = 'request' | 'reply';

export interface Hop {
  step: 'dns' | 'service' | 'policy' | 'route' | 'encapsulation' | 'mtu' | 'forward' | 'delivery';
  ok: boolean;
  detail: string;
  /** The way the packet travels at this step (absent: before any packet leaves the pod). */
  direction?: Direction;
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
  /** The kernel's decision for the packet as it arrives (from a pod's veth or the underlay). */
  route: RouteDecision;
  links: LinkFact[];
  forwardPolicy?: string;
  forwardAccepts: boolean;
  /** `net.ipv4.ip_forward` (`net.ipv6.conf.all.forwarding` for IPv6): off, the host forwards nothing to or from its pods. */
  ipForward?: boolean;
  tunnel?: TunnelHop;
  /** The outer addresses podnet's tc BPF IP-in-IP program on the route's device wraps the packet in. */
  ipipBpf?: { remote: string; local: string };
  /** Strict reverse-path filtering on the device the packet arrives by. */
  rpFilterStrict?: boolean;
  /** Routes podnet installed here (proto 80); the route the kernel picks must be one of them. */
  podnetRoutes?: RouteFact[];
  /** Where the chosen route came from, when routing is not the store's (BGP). */
  routeOrigin?: string;
  /** This host's NetworkUnavailable message: the peers its routing cannot reach, and why. */
  unreachable?: string;
}

/** One end of a path: a pod (or a bare IP), the node that owns it and that node's address. */
export interface Endpoint {
  ip: string;
  pod?: string;
  node?: string;
  nodeIP?: string;
  /** MTU of the pod's interface: the largest packet it sends. */
  mtu?: number;
}

/** One direction: from a pod on `out`'s host to `to`, delivered on `in`'s host. */
export interface Leg {
  direction: Direction;
  from: Endpoint & { node: string };
  to: Endpoint;
  out: HostPathFacts;
  /** The receiving host's view, when it is not the sending one. */
  in?: HostPathFacts;
}

export interface PathFacts {
  /** The cluster's pod range of the path's family. */
  clusterCIDR: string;
  /** The backend routing uses, to name the one that would reach an unreachable peer. */
  backend: string;
  request: Leg;
  /** The way back, when the destination is a pod on another host. */
  reply?: Leg;
}

/** Hops for one pod-to-pod path (after any service choice): there, then back. */
export function tracePath(f: PathFacts): Hop[] {
  return [...legHops(f.request, f), ...(f.reply ? legHops(f.reply, f) : [])];
}

const TUNNEL_OVERHEAD: Record<string, number> = { vxlan: 50, ipip: 20 };

function legHops(leg: Leg, f: PathFacts): Hop[] {
  const hops: Hop[] = [];
  const add = (step: Hop['step'], ok: boolean, detail: string): void => {
    hops.push({ step, ok, detail, direction: leg.direction });
  };
  const { out, to } = leg;
  const back = leg.direction === 'reply' ? ' back' : '';
  const family = tryParseIP(to.ip)?.family === 6 ? 6 : 4;
  if (out.ipForward === false) {
    add('forward', false, ipForwardOff(out.node, family));
    return hops;
  }
  if (!out.route.ok) {
    add(
      'route',
      false,
      `${out.node}: the kernel has no route${back} to ${to.ip}: ${out.route.error}`,
    );
    return hops;
  }
  if (to.node === undefined && within(f.clusterCIDR, to.ip)) {
    add(
      'route',
      false,
      `${to.ip} is inside the cluster range ${f.clusterCIDR}, but no node owns a pod subnet containing it: no pod can have this address`,
    );
    return hops;
  }
  const dev = out.route.dev ?? '?';
  const via = out.route.gateway ? ` via ${out.route.gateway}` : '';
  const sameHost = to.node === out.node;
  const tunnelDev = out.links.find(
    (l) => l.ifname === dev && (l.kind === 'vxlan' || l.kind === 'ipip'),
  );
  // WireGuard picks the peer by the inner destination: its device is the whole tunnel hop.
  const wireguardDev = out.links.find((l) => l.ifname === dev && dev === WIREGUARD_DEVICE);
  if (sameHost) {
    add('route', dev.startsWith('pn'), `${out.node}: ${to.ip}${via} dev ${dev} (same host)`);
  } else if (to.node === undefined) {
    add('route', true, `${out.node}: ${to.ip}${via} dev ${dev} (outside the cluster range)`);
  } else {
    // Off the host and not into a tunnel, the next hop must be the owning host itself (or,
    // with BGP, whatever podnet installed from it); any other gateway — the default route's
    // router — means podnet's route for that subnet is missing.
    const strayGateway =
      out.routeOrigin === undefined &&
      !tunnelDev &&
      !wireguardDev &&
      !out.ipipBpf &&
      to.nodeIP !== undefined &&
      out.route.gateway !== to.nodeIP;
    const foreign =
      out.podnetRoutes !== undefined &&
      !out.podnetRoutes.some(
        (r) => within(r.dst, to.ip) && r.dev === out.route.dev && r.gateway === out.route.gateway,
      );
    if (strayGateway || foreign) {
      const expected =
        out.routeOrigin === undefined && to.nodeIP
          ? `, not to ${to.nodeIP}`
          : ', not a podnet route';
      add(
        'route',
        false,
        `${out.node}: no podnet route${back} to ${to.ip} (${to.node}'s subnet): it falls to${via} dev ${dev}${expected}${unreachableReason(out, to.node, f.backend)}`,
      );
    } else {
      const kind =
        out.routeOrigin ??
        (tunnelDev
          ? 'tunnel'
          : wireguardDev
            ? 'WireGuard'
            : out.ipipBpf
              ? 'IP-in-IP in tc BPF'
              : `direct to ${to.node}`);
      add('route', true, `${out.node}: ${to.ip}${via} dev ${dev} (${kind})`);
    }
  }
  if (tunnelDev) {
    const t = out.tunnel ?? {};
    const podMtuOk = leg.from.mtu === undefined || leg.from.mtu <= tunnelDev.mtu;
    const overhead = TUNNEL_OVERHEAD[tunnelDev.kind ?? ''] ?? 0;
    const underlay = underlayOf(out, tunnelDev);
    const underlayOk = !underlay || tunnelDev.mtu + overhead <= underlay.mtu;
    add(
      'encapsulation',
      Boolean(t.mac && t.outerDst) && podMtuOk && underlayOk,
      !t.mac
        ? `${dev}: no neighbour entry for ${out.route.gateway}: the tunnel hop is missing`
        : !t.outerDst
          ? `${dev}: no FDB entry for ${t.mac}: the outer destination is unknown`
          : !podMtuOk
            ? `${dev} MTU ${tunnelDev.mtu} is smaller than the pod's MTU ${leg.from.mtu}: large packets are dropped`
            : !underlayOk
              ? `${out.node}: ${dev} MTU ${tunnelDev.mtu} plus ${overhead} bytes of encapsulation exceeds ${underlay!.ifname} MTU ${underlay!.mtu}: encapsulated packets over ${underlay!.mtu} bytes are dropped (see 'podnet doctor --node ${out.node}')`
              : `${tunnelDev.kind} ${dev} VNI ${tunnelDev.vxlan?.id ?? '-'} port ${tunnelDev.vxlan?.port ?? '-'}: inner → ${t.mac}, outer ${tunnelDev.vxlan?.local ?? out.route.prefsrc ?? '?'} → ${t.outerDst}, MTU ${tunnelDev.mtu}`,
    );
  } else if (out.ipipBpf && !sameHost && to.node !== undefined) {
    const { remote, local } = out.ipipBpf;
    add(
      'encapsulation',
      remote === to.nodeIP,
      remote === to.nodeIP
        ? `ipip (tc BPF) on ${dev}: outer ${local} → ${remote} (${to.node})`
        : `ipip (tc BPF) on ${dev}: wraps the packet for ${remote}, but ${to.node} is at ${to.nodeIP ?? '?'}`,
    );
  } else if (wireguardDev && !sameHost && to.node !== undefined) {
    const podMtuOk = leg.from.mtu === undefined || leg.from.mtu <= wireguardDev.mtu;
    add(
      'encapsulation',
      podMtuOk,
      podMtuOk
        ? `wireguard ${dev}: encrypted to ${to.node} at ${to.nodeIP ?? '?'}:${WIREGUARD_PORT}, MTU ${wireguardDev.mtu}`
        : `${dev} MTU ${wireguardDev.mtu} is smaller than the pod's MTU ${leg.from.mtu}: large packets are dropped`,
    );
  } else if (!sameHost && to.node !== undefined) {
    const link = out.links.find((l) => l.ifname === dev);
    if (link && leg.from.mtu !== undefined && link.mtu < leg.from.mtu) {
      add(
        'mtu',
        false,
        `${out.node}: ${dev} MTU ${link.mtu} is smaller than the pod's MTU ${leg.from.mtu}: larger packets are dropped (see 'podnet doctor --node ${out.node}')`,
      );
    }
  }
  const outForward = forwardHop(out, family);
  if (outForward) add('forward', false, outForward);
  const dst = leg.in;
  if (dst && !sameHost) {
    if (dst.ipForward === false) {
      add('forward', false, ipForwardOff(dst.node, family));
      return hops;
    }
    const inForward = forwardHop(dst, family);
    if (inForward) add('forward', false, inForward);
    if (dst.route.ok) {
      const veth = Boolean(dst.route.dev?.startsWith('pn'));
      add(
        'delivery',
        veth,
        `${dst.node}: ${to.ip} dev ${dst.route.dev}${veth ? ` (the pod's veth${to.pod ? `, ${to.pod}` : ''})` : ': not a pod veth'}`,
      );
    } else {
      add(
        'delivery',
        false,
        dst.rpFilterStrict
          ? `${dst.node}: rp_filter drops the packet arriving on its underlay/tunnel device (${dst.route.error}); set rp_filter to 2 there`
          : `${dst.node}: cannot deliver to ${to.ip}: ${dst.route.error}`,
      );
    }
  }
  return hops;
}

/** The sysctl that lets a host forward each family's packets. */
const FORWARDING_SYSCTL: Record<Family, string> = {
  4: 'net.ipv4.ip_forward',
  6: 'net.ipv6.conf.all.forwarding',
};

const ipForwardOff = (node: string, family: Family): string => {
  const key = FORWARDING_SYSCTL[family];
  return `${node}: ${key} = 0: the host forwards no packet to or from its pods (sysctl -w ${key}=1)`;
};

const forwardHop = (h: HostPathFacts, family: Family): string | undefined =>
  h.forwardPolicy === 'DROP' && !h.forwardAccepts
    ? `${h.node}: ${family === 4 ? 'iptables' : 'ip6tables'} FORWARD policy is DROP and nothing accepts pod traffic (see 'podnet doctor --node ${h.node}')`
    : undefined;

/** The device a tunnel sends its outer packets by: its `link`, else the one with an address. */
function underlayOf(h: HostPathFacts, tunnel: LinkFact): LinkFact | undefined {
  const named = tunnel.vxlan?.link;
  if (named) return h.links.find((l) => l.ifname === named);
  const local = tunnel.vxlan?.local;
  return local
    ? h.links.find((l) => l.addresses?.some((a) => a.startsWith(`${local}/`)))
    : undefined;
}

/** The host's own account of why it cannot route to `peer`, with the backend that would. */
function unreachableReason(h: HostPathFacts, peer: string, backend: string): string {
  if (!h.unreachable?.includes(`${peer} (`)) return '';
  const advice = backendAdvice(backend);
  return `; ${h.node}'s routing reports: ${h.unreachable}${advice ? ` — ${advice}` : ''}`;
}

function within(cidr: string, ip: string): boolean {
  // `ip route` prints a host route's destination without its length.
  const host = cidr.includes('/') ? undefined : tryParseIP(cidr);
  const c = host ? cidrOf(host, familyBits(host.family)) : tryParseCidr(cidr);
  const n = tryParseIP(ip);
  return c !== undefined && n !== undefined && containsIP(c, n);
}

/** `ip:port`, or `[ip]:port` for IPv6 so that the port stays readable. */
function hostPort(ip: string, port: number): string {
  return tryParseIP(ip)?.family === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export function serviceHop(s: ServiceFacts): Hop {
  const service = `${s.name} ${hostPort(s.clusterIP, s.port)}`;
  if (s.endpoints.length === 0) {
    return {
      step: 'service',
      ok: false,
      detail: `${service} has no ready endpoints: connections are refused`,
    };
  }
  if (!s.ruleProgrammed) {
    return {
      step: 'service',
      ok: false,
      detail: `${service}: no ${s.mode} rule on the source host yet (is its agent running?)`,
    };
  }
  const p = (100 / s.endpoints.length).toFixed(1);
  const list = s.endpoints.map((e) => `${e.pod} ${hostPort(e.ip, e.port)} (${p} %)`).join(', ');
  return {
    step: 'service',
    ok: true,
    detail: `${service} → DNAT at random (${s.mode}) to ${list}`,
  };
}

export function verdict(hops: Hop[]): { ok: boolean; text: string } {
  const broken = hops.find((h) => !h.ok);
  return broken
    ? { ok: false, text: `BROKEN at ${stepName(broken)}: ${broken.detail}` }
    : { ok: true, text: 'OK: the kernel delivers this path both ways' };
}

/** `route`, or `reply route` for a step on the way back. */
export function stepName(h: Hop): string {
  return h.direction === 'reply' ? `reply ${h.step}` : h.step;
}
