// A routed pod's link to its host, as the reference ptp plugin builds it: a veth pair whose
// pod end carries the pod's /32 and routes via the gateway, and whose host end carries the
// gateway address and a host route to the pod (proto 80, podnet's mark). The work is two
// processes per pod -- one `ip -batch` in the host namespace and one in the pod's -- because
// process start, not the kernel, is what costs time here.
import { createHash } from 'node:crypto';
import { statfsSync, writeFileSync } from 'node:fs';
import { OperationError } from '../util/errors.js';
import { run } from './exec.js';

/** Route protocol number marking every route podnet installs (CONVENTIONS.md). */
export const PODNET_PROTO = 80;

export interface PodVeth {
  hostVeth: string;
  hostMac: string;
  /** Path of the pod's network namespace. */
  netns: string;
  ifname: string;
  podMac: string;
  podIP: string;
  gateway: string;
  mtu: number;
}

/** `pn` + 11 hex characters of a hash of the pod's key: stable, and within IFNAMSIZ (15). */
export function hostVethName(podKey: string): string {
  return `pn${sha256(podKey).slice(0, 11)}`;
}

/**
 * The pod side's MAC, derived from its IP the way kubenet and OVN do (0a:58 + the address):
 * known before the interface exists, so the result needs no read-back.
 */
export function podMacFor(ip: string): string {
  const octets = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
  return ['0a', '58', ...octets].join(':');
}

/** The host side's MAC: locally administered (02:), from a hash of the veth's name. */
export function hostMacFor(hostVeth: string): string {
  const hex = sha256(hostVeth).slice(0, 10);
  return ['02', ...(hex.match(/../g) ?? [])].join(':');
}

/** Host namespace: create the pair (pod end straight into the pod's namespace), address, route. */
export function renderHostBatch(v: PodVeth): string {
  return [
    `link add ${v.hostVeth} mtu ${v.mtu} address ${v.hostMac} type veth` +
      ` peer name ${v.ifname} mtu ${v.mtu} address ${v.podMac} netns ${v.netns}`,
    `link set ${v.hostVeth} up`,
    `addr add ${v.gateway}/32 dev ${v.hostVeth}`,
    `route add ${v.podIP}/32 dev ${v.hostVeth} proto ${PODNET_PROTO} scope link`,
    '',
  ].join('\n');
}

/**
 * Pod namespace: the /32 needs no subnet route to delete (the long note in ptp), only a link
 * route to the gateway, which the default route then goes through.
 */
export function renderPodBatch(v: PodVeth): string {
  return [
    `link set ${v.ifname} up`,
    `addr add ${v.podIP}/32 dev ${v.ifname}`,
    `route add ${v.gateway}/32 dev ${v.ifname} scope link`,
    `route add default via ${v.gateway} dev ${v.ifname}`,
    '',
  ].join('\n');
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
 * Builds the pair. Fails with InterfaceExistsError when `ifname` is already in the pod; on
 * any other failure removes what it created, so a failed ADD leaves no link behind.
 */
export async function wirePodVeth(v: PodVeth): Promise<void> {
  try {
    await run(['ip', '-batch', '-'], { input: renderHostBatch(v) });
  } catch (err) {
    // Only the first line (link add) can fail because something already exists; then the
    // existing links belong to someone else and must stay.
    const firstLine = /Command failed -:1\b/.test((err as Error).message);
    if (firstLine && (await linkExists(v.netns, v.ifname))) {
      throw new InterfaceExistsError(`interface ${v.ifname} already exists in ${v.netns}`);
    }
    if (!firstLine) await deleteLink(v.hostVeth);
    throw err;
  }
  try {
    await run(['ip', '-batch', '-'], { netns: v.netns, input: renderPodBatch(v) });
  } catch (err) {
    await deleteLink(v.hostVeth);
    throw err;
  }
}

/** Deletes a link of this namespace (its veth peer goes with it); succeeds if it is gone. */
export async function deleteLink(name: string): Promise<void> {
  const r = await run(['ip', 'link', 'del', name], { okCodes: [1] });
  if (r.code !== 0 && !/Cannot find device/.test(r.stderr)) {
    throw new OperationError(`could not delete link ${name}: ${r.stderr.trim()}`);
  }
}

/** Deletes several links in one process; those already gone are no failure. */
export async function deleteLinks(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const input = names.map((n) => `link del ${n}\n`).join('');
  await run(['ip', '-force', '-batch', '-'], { input, okCodes: [1] });
}

export async function linkExists(netns: string | undefined, name: string): Promise<boolean> {
  const r = await run(['ip', '-o', 'link', 'show', 'dev', name], { netns, okCodes: [1, 255] });
  return r.code === 0;
}

/** What CHECK compares against the allocation: the pod's addresses and routes, the host route. */
export interface PodVethState {
  podAddresses: string[];
  podRoutes: { dst: string; gateway?: string; dev?: string }[];
  hostRoutes: { dst: string; dev?: string; protocol?: string }[];
}

interface IpAddrJson {
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export async function readPodVeth(
  netns: string,
  ifname: string,
  podIP: string,
): Promise<PodVethState> {
  const pod = await run(['ip', '-j', '-batch', '-'], {
    netns,
    input: `addr show dev ${ifname}\nroute show\n`,
  });
  const [addrs = '[]', routes = '[]'] = pod.stdout.trim().split('\n');
  const host = await run(['ip', '-j', 'route', 'show', `${podIP}/32`]);
  return {
    podAddresses: (JSON.parse(addrs) as IpAddrJson[])
      .flatMap((l) => l.addr_info ?? [])
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`),
    podRoutes: JSON.parse(routes) as PodVethState['podRoutes'],
    hostRoutes: JSON.parse(host.stdout.trim() || '[]') as PodVethState['hostRoutes'],
  };
}

/** Routed pods need the host to forward (ptp turns it on too); per network namespace. */
export function enableIPv4Forwarding(): void {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
