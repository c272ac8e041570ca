// Sync cost at scale, both modes in one run: 10,000 services x 10 endpoints, programmed
// into fresh namespaces. iptables is measured beside a bare `iptables-restore` of the same
// text (the anchor: podnet's rendering and diffing should be nearly free). nftables is
// measured in interleaved rounds beside its floor, a bare `nft -f` loading the same sets and
// elements without podnet (goals: full < 1 s and <= 1.1x the floor, one change < 100 ms).
// Ends with BENCH lines.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { ProxyMode } from '../src/api/types.js';
import { iptablesRestore } from '../src/kernel/iptables.js';
import { netfilterKernel } from '../src/kernel/netfilter.js';
import { nftApply } from '../src/kernel/nft.js';
import { JUMP_RULES, desiredChains, restoreText } from '../src/proxy/iptables-rules.js';
import type { ServicePortRule } from '../src/proxy/model.js';
import { TABLE, desiredNft } from '../src/proxy/nftables-rules.js';
import { createProxier, type SyncOutcome } from '../src/proxy/proxier.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { CLUSTER } from '../test/helpers/proxy-topology.js';
import { median } from './lib/stats.js';

/** The benchmark node's own pod subnet (hairpin rules only for its endpoints). */
const NET = { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' };

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10000);
const ENDPOINTS = 10;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function octets(n: number): string {
  return `${(n >> 8) & 255}.${n & 255}`;
}

function services(): ServicePortRule[] {
  return Array.from({ length: SERVICES }, (_, i) => ({
    name: `bench/svc-${i}:http`,
    clusterIP: `10.96.${octets(i + 1)}`,
    protocol: 'TCP' as const,
    port: 80,
    endpoints: Array.from({ length: ENDPOINTS }, (_, j) => ({
      ip: `10.244.${octets(((i * ENDPOINTS + j) % 65000) + 1)}`,
      port: 8080,
    })),
  }));
}

function withEndpointChanged(rules: ServicePortRule[]): ServicePortRule[] {
  const copy = rules.slice();
  const target = copy[Math.floor(SERVICES / 2)]!;
  copy[Math.floor(SERVICES / 2)] = {
    ...target,
    endpoints: [...target.endpoints.slice(0, -1), { ip: '10.244.255.254', port: 8080 }],
  };
  return copy;
}

function namespace(tag: string): string {
  const ns = uniqueName(tag);
  execFileSync('ip', ['netns', 'add', ns]);
  return ns;
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const value = await fn();
  return [(performance.now() - start) / 1000, value];
}

const fmt = (s: number): string => s.toFixed(3);

const spread = (xs: number[]): string => `${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))}`;

/**
 * The floor of an nftables full sync: the same table, sets, maps and elements podnet
 * programs, as one plain script rendered before timing starts. Its chains are declared, empty,
 * because verdict elements must name a chain that exists.
 */
function floorScript(rules: ServicePortRule[]): string {
  const desired = desiredNft(rules, NET);
  const out = [`add table ${TABLE}`];
  for (const name of desired.chains.keys()) out.push(`add chain ${TABLE} ${name}`);
  for (const [name, body] of desired.sets) {
    out.push(`add ${body.includes(' : ') ? 'map' : 'set'} ${TABLE} ${name} { ${body} }`);
  }
  for (const [set, els] of desired.elements) {
    if (els.size) out.push(`add element ${TABLE} ${set} { ${[...els.values()].join(', ')} }`);
  }
  return `${out.join('\n')}\n`;
}

/** Seconds a bare `nft -f` takes to load `script` into a fresh namespace. */
async function measureFloor(script: string): Promise<number> {
  const ns = namespace('floor');
  try {
    const [seconds] = await timed(() => nftApply(script, { netns: ns }));
    return seconds;
  } finally {
    deleteNamespace(ns);
  }
}

/** Seconds of each step, and what the proxier says it programmed. */
interface Measured {
  full: number;
  fullOut: SyncOutcome;
  one: number;
  oneOut: SyncOutcome;
  canary: number;
}

/**
 * A full sync, then one changed endpoint, then the canary check, of one mode alone in a
 * namespace of its own: a namespace full of rules slows the next one's netlink work.
 */
async function measure(
  mode: ProxyMode,
  rules: ServicePortRule[],
  changed: ServicePortRule[],
): Promise<Measured> {
  const ns = namespace(mode === 'iptables' ? 'ipt' : 'nft');
  try {
    const proxier = createProxier(mode, NET, netfilterKernel(ns));
    const [full, fullOut] = await timed(() => proxier.sync(rules, true));
    const [one, oneOut] = await timed(() => proxier.sync(changed, false));
    const [canary] = await timed(() => proxier.intact());
    return { full, fullOut, one, oneOut, canary };
  } finally {
    deleteNamespace(ns);
  }
}

async function main(): Promise<void> {
  sweepStaleNamespaces();
  const rules = services();
  const changed = withEndpointChanged(rules);
  const made: string[] = [];
  const lines: string[] = [];
  try {
    // iptables: anchor first, in its own namespace, with exactly the text podnet sends.
    const bareNs = namespace('bare');
    made.push(bareNs);
    const text = restoreText(desiredChains(rules, NET), undefined, undefined, JUMP_RULES[4]).text;
    const [bare] = await timed(() => iptablesRestore(text, { netns: bareNs }));
    deleteNamespace(made.pop()!);
    const ipt = await measure('iptables', rules, changed);
    // nftables: podnet and its floor alternate, so the machine's load falls on both alike.
    const floor = floorScript(rules);
    const floors: number[] = [];
    const nfts: Measured[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      floors.push(await measureFloor(floor));
      nfts.push(await measure('nftables', rules, changed));
    }
    const nftFull = nfts.map((m) => m.full);
    const nftOne = nfts.map((m) => m.one);
    const ratios = nftFull.map((full, i) => full / floors[i]!);
    const nft = nfts[0]!;

    console.log(`${SERVICES} services x ${ENDPOINTS} endpoints`);
    console.log('mode      full sync  one change  canary   programmed');
    console.log(
      `iptables  ${fmt(ipt.full)} s  ${fmt(ipt.one)} s    ${fmt(ipt.canary)} s  ${ipt.fullOut.rules} rules (${ipt.fullOut.sent} restore lines; one change sent ${ipt.oneOut.sent})`,
    );
    console.log(`  bare iptables-restore of the same text: ${fmt(bare)} s`);
    console.log(
      `nftables  ${fmt(median(nftFull))} s  ${fmt(median(nftOne))} s    ${fmt(nft.canary)} s  ${nft.fullOut.rules} rules, ${nft.fullOut.elements} elements (one change sent ${nft.oneOut.sent} lines)`,
    );
    console.log(
      `  ${ROUNDS} rounds: full ${spread(nftFull)} s, floor (bare nft -f of the same elements) median ${fmt(median(floors))} s (${spread(floors)}), full / floor ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`,
    );
    lines.push(
      `BENCH proxy-sync-iptables-full seconds=${fmt(ipt.full)} anchor=${fmt(bare)} ratio=${(ipt.full / bare).toFixed(2)}`,
      `BENCH proxy-sync-iptables-one-change seconds=${fmt(ipt.one)} anchor=${fmt(ipt.full)} ratio=${(ipt.one / ipt.full).toFixed(3)}`,
      `BENCH proxy-sync-nftables-full seconds=${fmt(median(nftFull))} anchor=1.000 ratio=${median(nftFull).toFixed(2)}`,
      `BENCH proxy-sync-nftables-full-floor seconds=${fmt(median(nftFull))} anchor=${fmt(median(floors))} ratio=${median(ratios).toFixed(2)} spread=${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`,
      `BENCH proxy-sync-nftables-one-change seconds=${fmt(median(nftOne))} anchor=0.100 ratio=${(median(nftOne) / 0.1).toFixed(2)}`,
    );
    for (const l of lines) console.log(l);
  } finally {
    for (const ns of made) deleteNamespace(ns);
  }
}

await main();
