// The rules that decide routes, as pure functions: what to accept from a peer (loop checks),
// which of several paths is best (RFC 4271 §9.1.2, RFC 4456 §9), and what to tell each peer
// (iBGP/eBGP rules and route reflection, RFC 4456 §8).
import { asPathLength } from './attributes/as-path.js';
import { isIPv4 } from '../net/index.js';
import { ipv4Word } from './ipv4.js';
import { AsSegmentType, type PathAttributes } from './message.js';

/** A source or destination of routes: a peer, or this speaker itself ('local'). */
export interface PeerInfo {
  /** Unique key: the peer's address, or 'local'. */
  key: string;
  kind: 'ibgp' | 'ebgp' | 'local';
  asNumber: number;
  /** The peer's BGP identifier (router id); ours for 'local'. */
  bgpId: string;
  /** A route-reflector client of ours. */
  rrClient: boolean;
  /** Our own address on this session: the next hop when we set next-hop-self. */
  localAddress: string;
  /** The peer's address (tie-break of last resort). */
  address: string;
}

export interface LocalConfig {
  asNumber: number;
  bgpId: string;
  /** Set when this speaker reflects routes (RFC 4456); usually its BGP identifier. */
  clusterId?: string;
}

/** One path to a prefix as held in the RIBs. `attrs` is shared by every prefix of an UPDATE. */
export interface Path {
  attrs: PathAttributes;
  source: PeerInfo;
  /** Kept through a peer's graceful restart, pending its End-of-RIB (RFC 4724). */
  stale: boolean;
}

export const DEFAULT_LOCAL_PREF = 100;

function asPathHas(attrs: PathAttributes, asn: number): boolean {
  return attrs.asPath.some((s) => s.asns.includes(asn));
}

/**
 * Why a received path must be ignored, or undefined when it is acceptable: our AS already in
 * the path (eBGP loop), or our router/cluster id in ORIGINATOR_ID/CLUSTER_LIST (RFC 4456 §8).
 */
export function importRejection(
  local: LocalConfig,
  from: PeerInfo,
  attrs: PathAttributes,
): string | undefined {
  if (from.kind === 'ebgp' && asPathHas(attrs, local.asNumber)) return 'AS_PATH loop';
  if (from.kind === 'ibgp') {
    if (attrs.originatorId === local.bgpId) return 'ORIGINATOR_ID is our own';
    const clusterId = local.clusterId ?? local.bgpId;
    if (attrs.clusterList?.includes(clusterId)) return 'CLUSTER_LIST holds our cluster id';
  }
  if (!attrs.nextHop) return 'no next hop';
  return undefined;
}

/** Attributes as stored after import: LOCAL_PREF from eBGP means nothing to us (RFC 4271 §5.1.5). */
export function importAttributes(from: PeerInfo, attrs: PathAttributes): PathAttributes {
  if (from.kind !== 'ebgp' || attrs.localPref === undefined) return attrs;
  const copy = { ...attrs };
  delete copy.localPref;
  return copy;
}

/** An address or router id for the tie-breaks; one that is none (a 'local' key) ranks lowest. */
function ipNumber(address: string): number {
  return isIPv4(address) ? ipv4Word(address) : 0;
}

function neighborAs(attrs: PathAttributes): number | undefined {
  const first = attrs.asPath[0];
  return first && first.type === AsSegmentType.SEQUENCE ? first.asns[0] : undefined;
}

/**
 * Orders two paths to one prefix: negative when `a` is better. RFC 4271 §9.1.2.2 with the
 * RFC 4456 §9 changes (ORIGINATOR_ID stands in for the router id; shorter CLUSTER_LIST wins).
 */
export function comparePaths(a: Path, b: Path): number {
  if (a.source.kind === 'local' || b.source.kind === 'local') {
    return (a.source.kind === 'local' ? -1 : 0) - (b.source.kind === 'local' ? -1 : 0);
  }
  const lp = (p: Path) => p.attrs.localPref ?? DEFAULT_LOCAL_PREF;
  if (lp(a) !== lp(b)) return lp(b) - lp(a);
  const len = asPathLength(a.attrs.asPath) - asPathLength(b.attrs.asPath);
  if (len !== 0) return len;
  if (a.attrs.origin !== b.attrs.origin) return a.attrs.origin - b.attrs.origin;
  // MED compares only paths from the same neighbouring AS.
  if (neighborAs(a.attrs) === neighborAs(b.attrs)) {
    const med = (a.attrs.med ?? 0) - (b.attrs.med ?? 0);
    if (med !== 0) return med;
  }
  if (a.source.kind !== b.source.kind) return a.source.kind === 'ebgp' ? -1 : 1;
  const routerId = (p: Path) => ipNumber(p.attrs.originatorId ?? p.source.bgpId);
  if (routerId(a) !== routerId(b)) return routerId(a) - routerId(b);
  const clusters = (a.attrs.clusterList?.length ?? 0) - (b.attrs.clusterList?.length ?? 0);
  if (clusters !== 0) return clusters;
  return ipNumber(a.source.address) - ipNumber(b.source.address);
}

/** The best of several paths, or undefined when there are none. */
export function bestPath(paths: readonly Path[]): Path | undefined {
  let best: Path | undefined;
  for (const p of paths) if (!best || comparePaths(p, best) < 0) best = p;
  return best;
}

/**
 * Whether `best` may be advertised to `to` at all: never back to its source; iBGP-learned
 * paths go to iBGP peers only through a route reflector (client → everyone, non-client →
 * clients only); eBGP-learned and local paths go everywhere.
 */
export function mayAdvertise(local: LocalConfig, best: Path, to: PeerInfo): boolean {
  if (best.source.key === to.key) return false;
  if (best.source.kind !== 'ibgp' || to.kind !== 'ibgp') return true;
  if (local.clusterId === undefined) return false;
  return best.source.rrClient || to.rrClient;
}

/** The attributes `to` receives for `best` (assuming mayAdvertise). */
/**
 * What exportAttributes reads of a peer: peers of one class are sent equal attributes, so they
 * may share the exported objects (and then the UPDATEs encoded from them).
 */
export function exportClass(to: PeerInfo): string {
  return `${to.kind} ${to.localAddress}`;
}

export function exportAttributes(local: LocalConfig, best: Path, to: PeerInfo): PathAttributes {
  const a = best.attrs;
  if (to.kind === 'ebgp') {
    // eBGP: prepend our AS, next hop self; LOCAL_PREF, MED of others and reflection
    // attributes stay inside our AS.
    const first = a.asPath[0];
    const asPath =
      first && first.type === AsSegmentType.SEQUENCE && first.asns.length < 255
        ? [{ type: first.type, asns: [local.asNumber, ...first.asns] }, ...a.asPath.slice(1)]
        : [{ type: AsSegmentType.SEQUENCE, asns: [local.asNumber] }, ...a.asPath];
    const out: PathAttributes = { ...a, asPath, nextHop: to.localAddress };
    delete out.localPref;
    delete out.originatorId;
    delete out.clusterList;
    if (best.source.kind !== 'local') delete out.med;
    return out;
  }
  // iBGP: AS_PATH and next hop unchanged, LOCAL_PREF always present.
  const out: PathAttributes = { ...a, localPref: a.localPref ?? DEFAULT_LOCAL_PREF };
  if (best.source.kind === 'local') out.nextHop = to.localAddress;
  if (best.source.kind === 'ibgp') {
    // Reflecting (RFC 4456 §8): ORIGINATOR_ID names the path's origin, our cluster id goes first.
    out.originatorId = a.originatorId ?? best.source.bgpId;
    out.clusterList = [local.clusterId ?? local.bgpId, ...(a.clusterList ?? [])];
  }
  return out;
}
