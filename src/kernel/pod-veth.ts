// A routed pod's link to its host, as the reference ptp plugin builds it: a veth pair whose
// pod end carries the pod's /32 and routes via the gateway, and whose host end carries the
// gateway address and a host route to the pod (proto 80, podnet's mark). Process start, not
// the kernel, is what costs time here, so no process is started per pod: the agent's
// long-lived podnet-pod-link wires both ends (pod-link-session.ts); its ip session removes
// links.
import { createHash } from 'node:crypto';
import { statfsSync, writeFileSync } from 'node:fs';
import { ipBytes, parseIP } from '../net/index.js';
import { OperationError } from '../util/errors.js';
import { run } from '../process/run.js';
import { IpBatchError, type IpSession } from './ip-session.js';

export interface PodVeth {
  hostVeth: string;
  hostMac: string;
  /** Path of the pod's network namespace. */
  netns: string;
  ifname: string;
  podMac: string;
  /** The pod's IPv4 address and its gateway; absent on an IPv6-only cluster. */
  podIP?: string;
  gateway?: string;
  mtu: number;
  /** The pod's IPv6 address, on a node with IPv6 pods; its gateway is LINK_LOCAL_GATEWAY. */
  podIPv6?: string;
}

/**
 * Every host-side veth carries this link-local address, as Calico's link-local next hop: the
 * pod's IPv6 default route never depends on the pod's subnet, and as a link-local address it
 * is never routed to.
 */
export const LINK_LOCAL_GATEWAY = 'fe80::1';

/** `pn` + 11 hex characters of a hash of the pod's key: stable, and within IFNAMSIZ (15). */
export function hostVethName(podKey: string): string {
  return `pn${sha256(podKey).slice(0, 11)}`;
}

/**
 * The pod side's MAC, derived from its IP the way kubenet and OVN do (0a:58 + the address's
 * last four bytes, all of an IPv4 one): known before the interface exists, so the result
 * needs no read-back.
 */
export function podMacFor(ip: string): string {
  const octets = ipBytes(parseIP(ip)).slice(-4);
  return ['0a', '58', ...octets.map((o) => o.toString(16).padStart(2, '0'))].join(':');
}

/** The host side's MAC: locally administered (02:), from a hash of the veth's name. */
export function hostMacFor(hostVeth: string): string {
  const hex = sha256(hostVeth).slice(0, 10);
  return ['02', ...(hex.match(/../g) ?? [])].join(':');
}

/** True when `path` is a namespace file (nsfs), as CNI_NETNS must be. */
export function isNamespaceFile(path: string): boolean {
  const NSFS_MAGIC = 0x6e736673;
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

export class InterfaceExistsError extends OperationError {}

/**
 * Deletes links of the session's namespace (a veth's peer and routes go with it); links that
 * are already gone are no failure.
 */
export async function deleteLinks(host: IpSession, names: string[]): Promise<void> {
  if (names.length === 0) return;
  try {
    await host.run(names.map((n) => `link del ${n}`));
  } catch (err) {
    const real = (err as IpBatchError).failures?.filter(
      (f) => !/Cannot find device/.test(f.message),
    );
    if (!real) throw err;
    if (real.length > 0) throw new IpBatchError(real);
  }
}

/** Which of `names` exist as links in the session's namespace (one round trip for all). */
export async function existingLinks(host: IpSession, names: string[]): Promise<Set<string>> {
  const present = new Set(names);
  try {
    await host.run(names.map((n) => `link show dev ${n}`));
  } catch (err) {
    if (!(err instanceof IpBatchError)) throw err;
    for (const f of err.failures) present.delete(f.command.slice('link show dev '.length));
  }
  return present;
}

/** What CHECK compares against the allocation: the pod's addresses and routes, the host route. */
export interface PodVethState {
  podAddresses: string[];
  podRoutes: { dst: string; gateway?: string; dev?: string }[];
  hostRoutes: { dst: string; dev?: string; protocol?: string }[];
}

interface IpAddrJson {
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

/** The pod side's addresses and routes, and the host's routes to the pod, of both families. */
export async function readPodVeth(
  netns: string,
  ifname: string,
  podIP: string,
  podIPv6?: string,
): Promise<PodVethState> {
  const pod = await run(['ip', '-j', '-batch', '-'], {
    netns,
    input: `addr show dev ${ifname}\nroute show\n`,
  });
  const [addrs = '[]', routes = '[]'] = pod.stdout.trim().split('\n');
  const host = await run(['ip', '-j', 'route', 'show', `${podIP}/32`]);
  const podRoutes = JSON.parse(routes) as PodVethState['podRoutes'];
  const hostRoutes = JSON.parse(host.stdout.trim() || '[]') as PodVethState['hostRoutes'];
  if (podIPv6 !== undefined) {
    const [pod6, host6] = await Promise.all([
      run(['ip', '-j', '-6', 'route', 'show'], { netns }),
      run(['ip', '-j', '-6', 'route', 'show', `${podIPv6}/128`]),
    ]);
    podRoutes.push(...(JSON.parse(pod6.stdout.trim() || '[]') as PodVethState['podRoutes']));
    hostRoutes.push(...(JSON.parse(host6.stdout.trim() || '[]') as PodVethState['hostRoutes']));
  }
  return {
    podAddresses: (JSON.parse(addrs) as IpAddrJson[])
      .flatMap((l) => l.addr_info ?? [])
      .filter((a) => a.family === 'inet' || (a.family === 'inet6' && a.scope !== 'link'))
      .map((a) => `${a.local}/${a.prefixlen}`),
    podRoutes,
    hostRoutes,
  };
}

/** Routed pods need the host to forward (ptp turns it on too); per network namespace. */
export function enableIPv4Forwarding(): void {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
