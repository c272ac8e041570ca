// A proxier programs the model into the kernel in one mode. It remembers what its last
// successful sync programmed, so the next one sends only the difference.
import type { ProxyMode } from '../api/types.js';
import {
  CANARY_CHAIN,
  JUMP_RULES,
  countRules,
  desiredChains,
  missingJumpRules,
  parseSave,
  removalText,
  restoreText,
  ruleChains,
  type ChainSet,
  type RuleChains,
} from './iptables-rules.js';
import type { IptablesKernel, NftablesKernel, ProxyKernel } from './kernel.js';
import {
  familyOf,
  portKey,
  ruleFingerprint,
  type ProxyNetwork,
  type ServicePortRule,
} from './model.js';
import {
  CANARY,
  addFragment,
  canaryTableOf,
  applyFragments,
  baseNft,
  fullScript,
  nftCounts,
  removalScript,
  ruleFragment,
  type Fragment,
  type NftState,
} from './nftables-rules.js';

export interface SyncOutcome {
  /** Rules in the whole programmed state. */
  rules: number;
  /** nft set/map elements (0 in iptables mode). */
  elements: number;
  /** Lines sent to the kernel (0: nothing changed, nothing sent). */
  sent: number;
}

export interface Proxier {
  readonly mode: ProxyMode;
  /** Programs `rules`; `full` rewrites everything and removes leftovers found in the kernel. */
  sync(rules: ServicePortRule[], full: boolean): Promise<SyncOutcome>;
  /** False when someone flushed or deleted podnet's rules behind its back. */
  intact(): Promise<boolean>;
  /** Forget the last programmed state: the next sync is full. */
  reset(): void;
  /**
   * Takes out everything this mode programs for its family, as kube-proxy cleans up the modes
   * it is not running: run with the other mode's proxier when a host changes mode.
   */
  remove(): Promise<void>;
}

export function createProxier(mode: ProxyMode, net: ProxyNetwork, kernel: ProxyKernel): Proxier {
  return mode === 'nftables'
    ? new NftablesProxier(net, kernel.nftables)
    : new IptablesProxier(net, kernel.iptables);
}

/** The jump rules are read with every this-many-th canary look (30 s at the default 5 s). */
const JUMP_CHECK_EVERY = 6;

export class IptablesProxier implements Proxier {
  readonly mode = 'iptables' as const;
  private programmed: ChainSet | undefined;
  /** Per service port, its last rendering: unchanged rules are not rendered again. */
  private rendered = new Map<string, { fingerprint: string; chains: RuleChains }>();
  /** Canary looks so far (see intact). */
  private looks = 0;

  constructor(
    private readonly net: ProxyNetwork,
    private readonly kernel: IptablesKernel,
  ) {}

  async sync(rules: ServicePortRule[], full: boolean): Promise<SyncOutcome> {
    const rendered = new Map<string, { fingerprint: string; chains: RuleChains }>();
    const desired = desiredChains(rules, this.net, (rule) => {
      const key = portKey(rule);
      const fingerprint = ruleFingerprint(rule);
      const old = this.rendered.get(key);
      const chains = old?.fingerprint === fingerprint ? old.chains : ruleChains(rule, this.net);
      rendered.set(key, { fingerprint, chains });
      return chains;
    });
    this.rendered = rendered;
    let text: string;
    if (full || !this.programmed) {
      // Only a full sync reads the kernel: to find chains and jump rules of an earlier run.
      const [nat, filter] = await Promise.all([
        this.kernel.save('nat').then((t) => parseSave('nat', t, familyOf(this.net))),
        this.kernel.save('filter').then((t) => parseSave('filter', t, familyOf(this.net))),
      ]);
      const missing = missingJumpRules([...nat.jumps, ...filter.jumps], familyOf(this.net));
      text = restoreText(
        desired,
        undefined,
        { nat: nat.chains, filter: filter.chains },
        missing,
      ).text;
    } else {
      text = restoreText(desired, this.programmed).text;
    }
    this.programmed = undefined;
    if (text) await this.kernel.restore(text);
    this.programmed = desired;
    return { rules: countRules(desired), elements: 0, sent: lineCount(text) };
  }

  /**
   * The canary chains still have their rule and, every JUMP_CHECK_EVERY-th look, every jump
   * into podnet's chains is there. Each chain listed is an iptables process (a save would do it
   * in one, but at 10,000 services it is megabytes every few seconds): a flushed table takes the
   * canary with it, so the jumps, which only a rule deleted one by one loses, are read less often.
   */
  async intact(): Promise<boolean> {
    const withJumps = this.looks++ % JUMP_CHECK_EVERY === 0;
    const jumps = withJumps ? JUMP_RULES[familyOf(this.net)] : [];
    // A chain with several jumps (INPUT, FORWARD) is listed once.
    const chains = [...new Map(jumps.map((j) => [`${j.table} ${j.chain}`, j])).values()];
    const [nat, filter, ...listed] = await Promise.all([
      this.kernel.listChain('nat', CANARY_CHAIN),
      this.kernel.listChain('filter', CANARY_CHAIN),
      ...chains.map((j) => this.kernel.listChain(j.table, j.chain)),
    ]);
    const rules = new Map(chains.map((j, i) => [`${j.table} ${j.chain}`, listed[i] ?? []]));
    const jumpsThere = jumps.every((j) =>
      rules.get(`${j.table} ${j.chain}`)!.includes(`-A ${j.chain} ${j.spec}`),
    );
    return !!nat?.length && !!filter?.length && jumpsThere;
  }

  reset(): void {
    this.programmed = undefined;
  }

  async remove(): Promise<void> {
    const family = familyOf(this.net);
    const [nat, filter] = await Promise.all([
      this.kernel.save('nat').then((t) => parseSave('nat', t, family)),
      this.kernel.save('filter').then((t) => parseSave('filter', t, family)),
    ]);
    const text = removalText({ nat, filter });
    this.programmed = undefined;
    if (text) await this.kernel.restore(text);
  }
}

export class NftablesProxier implements Proxier {
  readonly mode = 'nftables' as const;
  /** The programmed table, and per service port the rule and fragment it came from. */
  private programmed: { state: NftState; ports: Map<string, ProgrammedPort> } | undefined;

  constructor(
    private readonly net: ProxyNetwork,
    private readonly kernel: NftablesKernel,
  ) {}

  async sync(rules: ServicePortRule[], full: boolean): Promise<SyncOutcome> {
    const prev = full ? undefined : this.programmed;
    this.programmed = undefined;
    const ports = new Map<string, ProgrammedPort>();
    let text: string;
    let state: NftState;
    if (!prev) {
      state = baseNft(this.net);
      for (const rule of rules) {
        const fragment = ruleFragment(rule, this.net);
        addFragment(state, fragment);
        ports.set(portKey(rule), { rule, fingerprint: ruleFingerprint(rule), fragment });
      }
      text = fullScript(state);
    } else {
      // Only service ports whose rule changed are rendered again.
      state = prev.state;
      const removed: Fragment[] = [];
      const added: Fragment[] = [];
      for (const rule of rules) {
        const key = portKey(rule);
        const old = prev.ports.get(key);
        // The same object is the same rule; otherwise compare what the rule says.
        const print = old?.rule === rule ? old.fingerprint : ruleFingerprint(rule);
        if (old?.fingerprint === print) {
          ports.set(key, { ...old, rule });
          continue;
        }
        if (old) removed.push(old.fragment);
        const fragment = ruleFragment(rule, this.net);
        added.push(fragment);
        ports.set(key, { rule, fingerprint: print, fragment });
      }
      for (const [key, old] of prev.ports) if (!ports.has(key)) removed.push(old.fragment);
      text = applyFragments(state, removed, added);
    }
    if (text) await this.kernel.run(text);
    this.programmed = { state, ports };
    const counts = nftCounts(state);
    return { rules: counts.rules, elements: counts.elements, sent: lineCount(text) };
  }

  async intact(): Promise<boolean> {
    const [family, table] = canaryTableOf(familyOf(this.net)).split(' ') as [string, string];
    const rules = await this.kernel.listChain(family, table, CANARY);
    return !!rules?.length;
  }

  reset(): void {
    this.programmed = undefined;
  }

  async remove(): Promise<void> {
    this.programmed = undefined;
    await this.kernel.run(removalScript(familyOf(this.net)));
  }
}

interface ProgrammedPort {
  rule: ServicePortRule;
  fingerprint: string;
  fragment: Fragment;
}

function lineCount(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
