// Sync cost at scale, both modes in one run: 10,000 services x 10 endpoints, programmed
// into fresh namespaces. iptables is measured beside a bare `iptables-restore` of the same
// text (the anchor: podnet's rendering and diffing should be nearly free); nftables against
// its goals (full < 1 s, one change < 100 ms). Ends with BENCH lines.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { iptablesRestore } from '../src/kernel/iptables.js';
import { netfilterKernel } from '../src/kernel/netfilter.js';
import { JUMP_RULES, desiredChains, restoreText } from '../src/proxy/iptables-rules.js';
import type { ServicePortRule } from '../src/proxy/model.js';
import { createProxier } from '../src/proxy/proxier.js';
import { deleteNamespace, sweepStaleNamespaces, uniqueName } from '../test/helpers/names.js';
import { CLUSTER } from '../test/helpers/proxy-topology.js';

/** The benchmark node's own pod subnet (hairpin rules only for its endpoints). */
const NET = { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' };

const SERVICES = Number(process.env.BENCH_SERVICES ?? 10000);
const ENDPOINTS = 10;

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
    const text = restoreText(desiredChains(rules, NET), undefined, undefined, JUMP_RULES).text;
    const [bare] = await timed(() => iptablesRestore(text, { netns: bareNs }));
    // Each mode runs alone: a namespace full of rules slows the next one's netlink work.
    deleteNamespace(made.pop()!);
    const iptNs = namespace('ipt');
    made.push(iptNs);
    const ipt = createProxier('iptables', NET, netfilterKernel(iptNs));
    const [iptFull, iptOut] = await timed(() => ipt.sync(rules, true));
    const [iptOne, iptOneOut] = await timed(() => ipt.sync(changed, false));
    const [iptCanary] = await timed(() => ipt.intact());
    deleteNamespace(made.pop()!);

    const nftNs = namespace('nft');
    made.push(nftNs);
    const nft = createProxier('nftables', NET, netfilterKernel(nftNs));
    const [nftFull, nftOut] = await timed(() => nft.sync(rules, true));
    const [nftOne, nftOneOut] = await timed(() => nft.sync(changed, false));
    const [nftCanary] = await timed(() => nft.intact());

    console.log(`${SERVICES} services x ${ENDPOINTS} endpoints`);
    console.log('mode      full sync  one change  canary   programmed');
    console.log(
      `iptables  ${fmt(iptFull)} s  ${fmt(iptOne)} s    ${fmt(iptCanary)} s  ${iptOut.rules} rules (${iptOut.sent} restore lines; one change sent ${iptOneOut.sent})`,
    );
    console.log(`  bare iptables-restore of the same text: ${fmt(bare)} s`);
    console.log(
      `nftables  ${fmt(nftFull)} s  ${fmt(nftOne)} s    ${fmt(nftCanary)} s  ${nftOut.rules} rules, ${nftOut.elements} elements (one change sent ${nftOneOut.sent} lines)`,
    );
    lines.push(
      `BENCH proxy-sync-iptables-full seconds=${fmt(iptFull)} anchor=${fmt(bare)} ratio=${(iptFull / bare).toFixed(2)}`,
      `BENCH proxy-sync-iptables-one-change seconds=${fmt(iptOne)} anchor=${fmt(iptFull)} ratio=${(iptOne / iptFull).toFixed(3)}`,
      `BENCH proxy-sync-nftables-full seconds=${fmt(nftFull)} anchor=1.000 ratio=${nftFull.toFixed(2)}`,
      `BENCH proxy-sync-nftables-one-change seconds=${fmt(nftOne)} anchor=0.100 ratio=${(nftOne / 0.1).toFixed(2)}`,
    );
    for (const l of lines) console.log(l);
  } finally {
    for (const ns of made) deleteNamespace(ns);
  }
}

await main();
