// What a soak counts to find leaks: per host, the pod address reservations, veths, routes
// podnet installed, firewall rule lines, and conntrack entries that still name an address in the
// pod or service range that neither a live object nor a host has; in the store, its keys and
// leases. Taken once the cluster has settled before churn and again after churn's objects are
// gone; the two should be equal.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { promisify } from 'node:util';
import { containsIP, parseCidr, tryParseIP } from '../../src/net/index.js';
import { DEFAULT_CLUSTER_NETWORK } from '../../src/api/types.js';
import type { LabState } from '../../src/lab/state.js';
import type { Store } from '../../src/store/store.js';

const execFileAsync = promisify(execFile);
const CLUSTER_RANGES = [
  parseCidr(DEFAULT_CLUSTER_NETWORK.clusterCIDR),
  parseCidr(DEFAULT_CLUSTER_NETWORK.serviceCIDR),
];

export interface LeakCounts {
  /** `<host> <what>` or `store <what>` → count. */
  counts: Map<string, number>;
  storeKeys: Set<string>;
  /** `<host>` → its stale conntrack entries as listed, so that a leak says which flows. */
  staleConntrack: Map<string, string[]>;
}

async function inHost(netns: string, argv: string[]): Promise<string> {
  const { stdout } = await execFileAsync('ip', ['netns', 'exec', netns, ...argv], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Conntrack entries (lines of `conntrack -L`) naming a pod or cluster address not `live`. */
export function staleConntrackEntries(listing: string, live: ReadonlySet<string>): string[] {
  return listing.split('\n').filter((line) =>
    [...line.matchAll(/\b(?:src|dst)=(\S+)/g)].some(([, text]) => {
      const ip = tryParseIP(text!);
      return ip !== undefined && CLUSTER_RANGES.some((c) => containsIP(c, ip)) && !live.has(text!);
    }),
  );
}

function leaseCount(storeUrl: string): number | undefined {
  if (!storeUrl.startsWith('sqlite:')) return undefined;
  const db = new DatabaseSync(storeUrl.slice('sqlite:'.length), { readOnly: true });
  try {
    return Number((db.prepare('SELECT count(*) AS n FROM leases').get() as { n: number }).n);
  } finally {
    db.close();
  }
}

/** The addresses in `ip -j addr` output. */
export function addressesOf(ipJson: string): string[] {
  const links = JSON.parse(ipJson) as { addr_info?: { local?: string }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).flatMap((a) => (a.local ? [a.local] : [])));
}

/**
 * The counts now; `live` holds every pod IP and cluster IP that exists. The hosts' own
 * addresses count as live too: a host talks to its pods from its gateway address in the pod
 * range (the lab's readiness probes of the DNS pods keep such a connection open).
 */
export async function countLeaks(
  lab: LabState,
  store: Store,
  podsAndServices: ReadonlySet<string>,
): Promise<LeakCounts> {
  const live = new Set(podsAndServices);
  for (const h of lab.hosts) {
    for (const ip of addressesOf(await inHost(h.netns, ['ip', '-j', 'addr', 'show']))) live.add(ip);
  }
  const counts = new Map<string, number>();
  const staleConntrack = new Map<string, string[]>();
  for (const h of lab.hosts) {
    const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');
    counts.set(`${h.name} addresses`, readdirSync(join(h.stateDir, 'ipam', 'pods')).length);
    const veths = await inHost(h.netns, ['ip', '-o', 'link', 'show', 'type', 'veth']);
    counts.set(`${h.name} veths`, lines(veths).length);
    const routes = await inHost(h.netns, ['ip', '-o', 'route', 'show', 'table', 'all']);
    counts.set(`${h.name} routes`, lines(routes).filter((l) => / proto 80\b/.test(l)).length);
    const nft = await inHost(h.netns, ['nft', 'list', 'ruleset']);
    const ipt = await inHost(h.netns, ['iptables-save']);
    counts.set(
      `${h.name} rules`,
      lines(nft).length + lines(ipt).filter((l) => l.startsWith('-A')).length,
    );
    const conntrack = await inHost(h.netns, ['conntrack', '-L']).catch(() => '');
    const stale = staleConntrackEntries(conntrack, live);
    counts.set(`${h.name} stale-conntrack`, stale.length);
    staleConntrack.set(h.name, stale);
  }
  const { items } = await store.list('/');
  counts.set('store keys', items.length);
  counts.set('store leased-keys', items.filter((kv) => kv.lease !== undefined).length);
  const leases = leaseCount(lab.storeUrl);
  if (leases !== undefined) counts.set('store leases', leases);
  return { counts, storeKeys: new Set(items.map((kv) => kv.key)), staleConntrack };
}

/**
 * What grew from `before` to `after`: `<what> N → M` (a host's stale conntrack entries each
 * on an indented line below it), and store keys that were not there.
 */
export function leaksBetween(before: LeakCounts, after: LeakCounts): string[] {
  const out: string[] = [];
  for (const [what, n] of after.counts) {
    const was = before.counts.get(what) ?? 0;
    // Stale conntrack entries are leaks at any count; the rest only when they grew.
    if (what.endsWith('stale-conntrack') ? n > 0 : n > was) out.push(`${what} ${was} → ${n}`);
    const host = what.replace(/ stale-conntrack$/, '');
    if (what !== host && n > 0) {
      for (const entry of after.staleConntrack.get(host) ?? []) out.push(`  ${entry}`);
    }
  }
  for (const key of after.storeKeys) if (!before.storeKeys.has(key)) out.push(`store key ${key}`);
  return out;
}
