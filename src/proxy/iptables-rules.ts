// iptables mode: kube-proxy's chain design rendered as `iptables-restore --noflush` text.
// Every chain body is rendered in memory on each sync; only chains whose text changed since
// the last sync go to the kernel (the dispatch chains as single-rule edits), so one endpoint
// change at 10k services restores a dozen lines, not 230k. IPv6 is the same text for
// `ip6tables-restore`, with the family's host prefix, mask and multicast range.
import type { Family } from '../net/index.js';
import {
  MASQ_MARK,
  endpointHash,
  familyOf,
  mayHairpin,
  natTarget,
  serviceHash,
  type ProxyNetwork,
  type ServicePortRule,
} from './model.js';
import { IPTABLES_REFUSED_LOG } from './refused-log.js';

export const CHAIN_PREFIX = 'PODNET-';
export const SERVICES_CHAIN = 'PODNET-SERVICES';
export const NODEPORTS_CHAIN = 'PODNET-NODEPORTS';
export const POSTROUTING_CHAIN = 'PODNET-POSTROUTING';
export const EGRESS_CHAIN = 'PODNET-EGRESS';
export const MARK_MASQ_CHAIN = 'PODNET-MARK-MASQ';
/** An always-present chain with one rule: if it is gone, someone flushed the table. */
export const CANARY_CHAIN = 'PODNET-CANARY';
export const ENDPOINT_ERRORS_CHAIN = 'PODNET-ENDPOINT-ERRORS';

export type IptablesTable = 'nat' | 'filter';

/** Chain name → its rules (iptables-restore `-A` lines), per table. */
export type ChainSet = Record<IptablesTable, Map<string, string[]>>;

/** A rule in a built-in chain that sends traffic into podnet's chains. */
export interface JumpRule {
  table: IptablesTable;
  chain: string;
  /** The rule without `-A CHAIN`, as iptables-save prints it. */
  spec: string;
  target: string;
}

/** What the family changes in the rule text: one address as a prefix, its mask, multicast, ICMP. */
const DIALECTS: Record<
  Family,
  { host: string; fullMask: string; multicast: string; icmp: string; portUnreachable: string }
> = {
  4: {
    host: '/32',
    fullMask: '255.255.255.255',
    multicast: '224.0.0.0/4',
    icmp: 'icmp',
    portUnreachable: '-m icmp --icmp-type 3/3',
  },
  6: {
    host: '/128',
    fullMask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    multicast: 'ff00::/8',
    icmp: 'ipv6-icmp',
    portUnreachable: '-m icmp6 --icmpv6-type 1/4',
  },
};

function familyJumps(family: Family): JumpRule[] {
  return [
    jump('nat', 'PREROUTING', SERVICES_CHAIN, 'podnet service portals'),
    jump('nat', 'OUTPUT', SERVICES_CHAIN, 'podnet service portals'),
    jump('nat', 'POSTROUTING', POSTROUTING_CHAIN, 'podnet postrouting rules'),
    jump('filter', 'INPUT', SERVICES_CHAIN, 'podnet services without endpoints', true),
    jump('filter', 'FORWARD', SERVICES_CHAIN, 'podnet services without endpoints', true),
    jump('filter', 'OUTPUT', SERVICES_CHAIN, 'podnet services without endpoints', true),
    icmpJump('INPUT', family),
    icmpJump('FORWARD', family),
  ];
}

/** The jump rules from the built-in chains into podnet's, per family. */
export const JUMP_RULES: Record<Family, JumpRule[]> = { 4: familyJumps(4), 6: familyJumps(6) };

function icmpJump(chain: string, family: Family): JumpRule {
  const spec = `-p ${DIALECTS[family].icmp} -m comment --comment "podnet errors from service endpoints" -j ${ENDPOINT_ERRORS_CHAIN}`;
  return { table: 'filter', chain, spec, target: ENDPOINT_ERRORS_CHAIN };
}

function jump(
  table: IptablesTable,
  chain: string,
  target: string,
  comment: string,
  newOnly = false,
): JumpRule {
  const state = newOnly ? '-m conntrack --ctstate NEW ' : '';
  return { table, chain, target, spec: `${state}-m comment --comment "${comment}" -j ${target}` };
}

export function serviceChainName(rule: ServicePortRule): string {
  return `PODNET-SVC-${serviceHash(rule)}`;
}

/** The `recent` list remembering the clients of one endpoint (ClientIP affinity). */
export function affinityListName(
  rule: ServicePortRule,
  ep: ServicePortRule['endpoints'][0],
): string {
  return `PODNET-SEP-${endpointHash(rule, ep)}`;
}

const MARK = `0x${MASQ_MARK.toString(16)}`;

/** What one service port contributes: its chain, and its lines in the shared chains. */
export interface RuleChains {
  services: string[];
  nodePorts: string[];
  rejects: string[];
  /** Its own chain (absent when it has no endpoints). */
  chain?: [name: string, lines: string[]];
}

/**
 * Every chain podnet wants, with its rules: the whole desired state of both tables.
 * `render` may return a cached rendering for a rule that did not change.
 */
export function desiredChains(
  rules: ServicePortRule[],
  net: ProxyNetwork,
  render: (rule: ServicePortRule) => RuleChains = (rule) => ruleChains(rule, net),
): ChainSet {
  const nat = new Map<string, string[]>();
  const filter = new Map<string, string[]>();
  const services: string[] = [];
  const nodePorts: string[] = [];
  const rejects: string[] = [];
  const { multicast } = DIALECTS[familyOf(net)];

  nat.set(MARK_MASQ_CHAIN, [`-j MARK --or-mark ${MARK}`]);
  // Unmarked traffic goes to the egress rules and ends there (goto: no return here);
  // marked traffic loses the mark (so it is not masqueraded twice) and is masqueraded.
  nat.set(POSTROUTING_CHAIN, [
    `-m mark ! --mark ${MARK}/${MARK} -g ${EGRESS_CHAIN}`,
    `-j MARK --xor-mark ${MARK}`,
    '-m comment --comment "podnet service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ]);
  // flannel's ip-masq: pods reaching beyond the cluster (e.g. resolvers on the underlay)
  // leave with their host's address.
  nat.set(EGRESS_CHAIN, [
    `-d ${net.clusterCIDR} -j RETURN`,
    `-d ${net.serviceCIDR} -j RETURN`,
    `-d ${multicast} -j RETURN`,
    `-s ${net.clusterCIDR} -m comment --comment "podnet pod egress" -j MASQUERADE --random-fully`,
  ]);
  nat.set(CANARY_CHAIN, ['-j RETURN']);
  filter.set(CANARY_CHAIN, ['-j RETURN']);
  filter.set(ENDPOINT_ERRORS_CHAIN, [endpointUnreachableDrop(familyOf(net))]);

  for (const rule of rules) {
    const r = render(rule);
    services.push(...r.services);
    nodePorts.push(...r.nodePorts);
    rejects.push(...r.rejects);
    if (r.chain) nat.set(r.chain[0], r.chain[1]);
  }
  services.push(
    `-m addrtype --dst-type LOCAL -m comment --comment "podnet service nodeports; NOTE: this must be the last rule in this chain" -j ${NODEPORTS_CHAIN}`,
  );
  nat.set(SERVICES_CHAIN, services);
  nat.set(NODEPORTS_CHAIN, nodePorts);
  filter.set(SERVICES_CHAIN, rejects);
  return { nat, filter };
}

/**
 * A UDP endpoint whose program died answers its clients with port unreachable until its
 * conntrack entries go; glibc's resolver takes that as the server refusing and fails the
 * lookup at once. Dropped, the query times out instead and is sent again, by then to a live
 * endpoint. (As iptables-save prints it, so that a full sync finds it unchanged.)
 */
export function endpointUnreachableDrop(family: Family): string {
  const { icmp, portUnreachable } = DIALECTS[family];
  return `-p ${icmp} ${portUnreachable} -m conntrack --ctstate DNAT --ctproto 17 -m comment --comment "port unreachable from a UDP service endpoint: let the client retry" -j DROP`;
}

/** The rules of one service port. */
export function ruleChains(rule: ServicePortRule, net: ProxyNetwork): RuleChains {
  const out: RuleChains = { services: [], nodePorts: [], rejects: [] };
  const family = familyOf(net);
  const { host, fullMask } = DIALECTS[family];
  const proto = rule.protocol.toLowerCase();
  const match = `-p ${proto} -m ${proto}`;
  const comment = `-m comment --comment "${rule.name}"`;
  if (rule.endpoints.length === 0) {
    const refused = [
      `-d ${rule.clusterIP}${host} ${match} --dport ${rule.port}`,
      ...(rule.nodePort ? [`-m addrtype --dst-type LOCAL ${match} --dport ${rule.nodePort}`] : []),
    ];
    for (const packets of refused) {
      const why = `${packets} -m comment --comment "${rule.name} has no endpoints"`;
      out.rejects.push(`${why} ${IPTABLES_REFUSED_LOG}`, `${why} -j REJECT`);
    }
    return out;
  }
  const svcChain = serviceChainName(rule);
  out.services.push(
    `-d ${rule.clusterIP}${host} ${match} --dport ${rule.port} ${comment} -j ${svcChain}`,
  );
  if (rule.nodePort) {
    out.nodePorts.push(`${match} --dport ${rule.nodePort} ${comment} -j ${MARK_MASQ_CHAIN}`);
    out.nodePorts.push(`${match} --dport ${rule.nodePort} ${comment} -j ${svcChain}`);
  }
  const svcRules = [
    // Off-cluster clients (the host itself, NodePort users) must see replies from the
    // service's address path, so their traffic is masqueraded.
    `! -s ${net.clusterCIDR} -d ${rule.clusterIP}${host} ${match} --dport ${rule.port} ${comment} -j ${MARK_MASQ_CHAIN}`,
  ];
  // Hairpin: a pod reaching itself through its service must not see its own address as
  // the source, or it would answer itself directly. Marked before the pick, so any
  // endpoint calling its own service is masqueraded (no per-endpoint chains: see below).
  for (const ep of rule.endpoints.filter((e) => mayHairpin(e, net))) {
    svcRules.push(`-s ${ep.ip}${host} ${comment} -j ${MARK_MASQ_CHAIN}`);
  }
  // DNAT straight from the service chain, no KUBE-SEP-style chain per endpoint:
  // iptables-nft's `--noflush` restore slows down with the square of the chains it
  // creates (5,500 chains 1.4 s, 11,000 chains 6.3 s on this machine), and 10k services x
  // 10 endpoints would be 110k chains. Same datapath, one chain per service port.
  const n = rule.endpoints.length;
  const dnat = (ep: ServicePortRule['endpoints'][0]): string =>
    `-j DNAT --to-destination ${natTarget(ep, family)}`;
  if (rule.affinitySeconds !== undefined) {
    for (const ep of rule.endpoints) {
      svcRules.push(
        `${match} -m recent --rcheck --seconds ${rule.affinitySeconds} --reap --name ${affinityListName(rule, ep)} --mask ${fullMask} --rsource ${comment} ${dnat(ep)}`,
      );
    }
  }
  rule.endpoints.forEach((ep, i) => {
    // Endpoint i of n is taken with probability 1/(n-i) among those left: each gets 1/n.
    const pick = i < n - 1 ? `-m statistic --mode random --probability ${probability(n - i)} ` : '';
    const remember =
      rule.affinitySeconds !== undefined
        ? `-m recent --set --name ${affinityListName(rule, ep)} --mask ${fullMask} --rsource `
        : '';
    svcRules.push(`${match} ${comment} ${pick}${remember}${dnat(ep)}`);
  });
  out.chain = [svcChain, svcRules];
  return out;
}

/** kube-proxy's formatting of 1/k: ten decimals. */
export function probability(k: number): string {
  return (1 / k).toFixed(10);
}

/**
 * nat chains that list every service. kube-proxy rewrites them on every sync; here a partial
 * sync edits them rule by rule (`-D` what went, `-I 1` what came: the last rule, the jump to
 * the node ports, stays last), because a `--noflush` restore of 10k rules costs seconds with
 * iptables-nft. Their order carries no meaning: each rule matches one service.
 */
const EDITED_IN_PLACE = new Set([SERVICES_CHAIN, NODEPORTS_CHAIN]);

export interface RestorePlan {
  /** Input for `iptables-restore --noflush`; empty when nothing changes. */
  text: string;
  /** Chains written (declared and filled) per table. */
  written: number;
  /** Chains deleted per table. */
  deleted: number;
}

/**
 * The restore text that takes the kernel from `previous` (what the last sync programmed, or
 * undefined to write everything) to `desired`. `stray` names podnet chains found in the
 * kernel that `previous` does not know (left by an earlier run); they are deleted too.
 */
export function restoreText(
  desired: ChainSet,
  previous: ChainSet | undefined,
  stray: Record<IptablesTable, string[]> = { nat: [], filter: [] },
  missingJumps: JumpRule[] = [],
): RestorePlan {
  const out: string[] = [];
  let written = 0;
  let deleted = 0;
  for (const table of ['filter', 'nat'] as const) {
    const want = desired[table];
    const had = previous?.[table];
    const toWrite: string[] = [];
    const edits: string[] = [];
    for (const [chain, lines] of want) {
      const old = had?.get(chain);
      if (old && table === 'nat' && EDITED_IN_PLACE.has(chain)) {
        edits.push(...editLines(chain, old, lines));
      } else if (!old || (old !== lines && !sameLines(old, lines))) toWrite.push(chain);
    }
    const toDelete = new Set(stray[table].filter((c) => !want.has(c)));
    for (const chain of had?.keys() ?? []) if (!want.has(chain)) toDelete.add(chain);
    const jumps = missingJumps.filter((j) => j.table === table);
    if (!toWrite.length && !toDelete.size && !jumps.length && !edits.length) continue;
    out.push(`*${table}`);
    // A `:CHAIN` line creates the chain or flushes it (with --noflush only these chains).
    for (const chain of toWrite) out.push(`:${chain} - [0:0]`);
    for (const chain of toDelete) out.push(`:${chain} - [0:0]`);
    for (const chain of toWrite)
      for (const line of want.get(chain)!) out.push(`-A ${chain} ${line}`);
    out.push(...edits);
    for (const j of jumps) out.push(`-I ${j.chain} 1 ${j.spec}`);
    // Deleted last: by now nothing refers to them.
    for (const chain of toDelete) out.push(`-X ${chain}`);
    out.push('COMMIT');
    written += toWrite.length;
    deleted += toDelete.size;
  }
  return { text: out.length ? `${out.join('\n')}\n` : '', written, deleted };
}

/** `-D` for rules that went, `-I CHAIN 1` (in reverse, so they keep their order) for new ones. */
function editLines(chain: string, old: string[], lines: string[]): string[] {
  const before = new Set(old);
  const after = new Set(lines);
  const out = old.filter((l) => !after.has(l)).map((l) => `-D ${chain} ${l}`);
  const added = lines.filter((l) => !before.has(l)).reverse();
  for (const l of added) out.push(`-I ${chain} 1 ${l}`);
  return out;
}

function sameLines(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((line, i) => line === b[i]);
}

export function countRules(chains: ChainSet): number {
  let n = 0;
  for (const table of [chains.nat, chains.filter])
    for (const lines of table.values()) n += lines.length;
  return n;
}

/** `PODNET-` chains that other parts of podnet keep in the same tables (network policy). */
const OTHER_OWNERS = ['PODNET-NP-'];

/** What an `iptables-save` of one table says about the proxy: its chains and its jump rules. */
export function parseSave(
  table: IptablesTable,
  saveText: string,
  family: Family,
): { chains: string[]; jumps: JumpRule[] } {
  const chains: string[] = [];
  const lines = saveText.split('\n');
  for (const line of lines) {
    const chain = line.startsWith(`:${CHAIN_PREFIX}`) ? line.slice(1).split(' ')[0]! : undefined;
    if (chain && !OTHER_OWNERS.some((prefix) => chain.startsWith(prefix))) chains.push(chain);
  }
  const jumps = JUMP_RULES[family].filter(
    (j) => j.table === table && lines.includes(`-A ${j.chain} ${j.spec}`),
  );
  return { chains, jumps };
}

/**
 * Restore text that takes out everything the proxy keeps in the tables, as a save found it:
 * its jump rules first, then its chains (flushed, so none refers to another, then deleted).
 * What a host switched to nftables runs once, so that no iptables portal is left to answer
 * before the nftables one. Empty when there is nothing to take out.
 */
export function removalText(
  found: Record<IptablesTable, { chains: string[]; jumps: JumpRule[] }>,
): string {
  const out: string[] = [];
  for (const table of ['filter', 'nat'] as const) {
    const { chains, jumps } = found[table];
    if (chains.length === 0 && jumps.length === 0) continue;
    out.push(`*${table}`);
    for (const j of jumps) out.push(`-D ${j.chain} ${j.spec}`);
    for (const chain of chains) out.push(`:${chain} - [0:0]`);
    for (const chain of chains) out.push(`-X ${chain}`);
    out.push('COMMIT');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Jump rules from built-in chains that a save of both tables lacks. */
export function missingJumpRules(present: JumpRule[], family: Family): JumpRule[] {
  return JUMP_RULES[family].filter((j) => !present.includes(j));
}
