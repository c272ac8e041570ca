// Keeps the fakes honest against real kernels (integration tests, as root): a tee sends every
// transaction a proxier makes to a fake as well as to the kernel, and records any transaction
// one of them took and the other refused; a comparison loads the fake's state into a scratch
// namespace and lists both kernels the same way (`nft -j list table`, `iptables-save`), so the
// kernel itself normalises what it prints.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { ProxyMode } from '../../src/api/types.js';
import type { IptablesKernel, NftablesKernel } from '../../src/proxy/kernel.js';
import type { ProxyNetwork, ServicePortRule } from '../../src/proxy/model.js';
import { createProxier } from '../../src/proxy/proxier.js';
import { FakeConntrack } from './fake-conntrack.js';
import { FakeIptables } from './fake-iptables.js';
import { FakeNftables } from './fake-nftables.js';
import { deleteNamespace, uniqueName } from './names.js';

/** Transactions the fake and the kernel did not agree on (one took it, one refused it). */
export type Disagreements = string[];

async function both(
  fake: () => Promise<void>,
  real: () => Promise<void>,
  what: string,
  disagreements: Disagreements,
): Promise<void> {
  const fakeError = await fake().then(
    () => undefined,
    (err: Error) => err,
  );
  try {
    await real();
  } catch (err) {
    if (!fakeError) disagreements.push(`the kernel refused what the fake took: ${what}`);
    throw err;
  }
  if (fakeError) disagreements.push(`the fake refused what the kernel took: ${fakeError.message}`);
}

export function teeNftables(
  real: NftablesKernel,
  fake: FakeNftables,
  disagreements: Disagreements,
): NftablesKernel {
  return {
    run: (script) =>
      both(
        () => fake.run(script),
        () => real.run(script),
        script,
        disagreements,
      ),
    listChain: (family, table, chain) => real.listChain(family, table, chain),
  };
}

export function teeIptables(
  real: IptablesKernel,
  fake: FakeIptables,
  disagreements: Disagreements,
): IptablesKernel {
  return {
    restore: (text) =>
      both(
        () => fake.restore(text),
        () => real.restore(text),
        text,
        disagreements,
      ),
    save: (table) => real.save(table),
    listChain: (table, chain) => real.listChain(table, chain),
  };
}

function inNs(ns: string, argv: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', input });
}

/** A fresh namespace holding what `load` puts there, for as long as `list` runs. */
function scratch<T>(load: (ns: string) => void, list: (ns: string) => T): T {
  const ns = uniqueName('fake');
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    load(ns);
    return list(ns);
  } finally {
    deleteNamespace(ns);
  }
}

type NftObject = Record<string, Record<string, unknown>>;

/**
 * `nft -j list table` without what does not say what podnet programmed: handles, the elements
 * of sets the kernel fills itself (affinity), and the order of objects and set elements. Rules
 * keep their order within their chain.
 */
function normaliseNft(json: string): unknown {
  const items = (JSON.parse(json) as { nftables: NftObject[] }).nftables;
  const objects: string[] = [];
  const rules = new Map<string, string[]>();
  for (const item of items) {
    const [kind, body] = Object.entries(item)[0]!;
    if (kind === 'metainfo') continue;
    const rest = { ...body };
    delete rest.handle;
    // Elements of timeout sets are the clients the kernel learned (affinity), never podnet's.
    const flags = Array.isArray(rest.flags) ? (rest.flags as string[]) : [];
    if (flags.includes('dynamic') || flags.includes('timeout')) delete rest.elem;
    if (Array.isArray(rest.elem)) rest.elem = rest.elem.map((e) => JSON.stringify(e)).sort();
    if (kind === 'rule') {
      const chain = String(rest.chain);
      rules.set(chain, [...(rules.get(chain) ?? []), JSON.stringify(rest)]);
    } else objects.push(JSON.stringify({ [kind]: rest }));
  }
  return { objects: objects.sort(), rules: [...rules].sort(([a], [b]) => a.localeCompare(b)) };
}

/** The fake's table `name` ("ip podnet") equals the kernel's in namespace `ns`. */
export function assertNftMatchesKernel(fake: FakeNftables, ns: string, name: string): void {
  const list = (where: string): unknown =>
    normaliseNft(inNs(where, ['nft', '-j', 'list', 'table', ...name.split(' ')]));
  const kernel = list(ns);
  const fromFake = scratch(
    (s) => inNs(s, ['nft', '-f', '-'], fake.script(name)),
    (s) => list(s),
  );
  assert.deepEqual(fromFake, kernel, `the fake's table ${name} differs from the kernel's in ${ns}`);
}

/** `iptables-save` without counters and comments, chains in name order, rules in chain order. */
function normaliseSave(text: string): string[] {
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  const declared = lines
    .filter((l) => l.startsWith(':'))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''));
  const rules = lines.filter((l) => l.startsWith('-A '));
  const chainOf = (l: string): string => l.split(' ')[1]!;
  // A stable sort keeps each chain's rules in their order.
  rules.sort((a, b) => chainOf(a).localeCompare(chainOf(b)));
  return [...declared.sort(), ...rules];
}

/** The fake's nat and filter tables equal the kernel's in namespace `ns`. */
export async function assertIptablesMatchesKernel(fake: FakeIptables, ns: string): Promise<void> {
  const text = (await fake.save('nat')) + (await fake.save('filter'));
  const list = (where: string): string[][] =>
    ['nat', 'filter'].map((t) => normaliseSave(inNs(where, ['iptables-save', '-t', t])));
  const kernel = list(ns);
  const fromFake = scratch(
    (s) => inNs(s, ['iptables-restore'], text),
    (s) => list(s),
  );
  assert.deepEqual(fromFake, kernel, `the fake's iptables differ from the kernel's in ${ns}`);
}

/** The fake of `mode` (table `ip podnet`, or iptables' nat and filter) equals namespace `ns`. */
export async function assertProxyFakeMatchesKernel(
  mode: ProxyMode,
  fakes: { nftables: FakeNftables; iptables: FakeIptables },
  ns: string,
): Promise<void> {
  if (mode === 'nftables') assertNftMatchesKernel(fakes.nftables, ns, 'ip podnet');
  else await assertIptablesMatchesKernel(fakes.iptables, ns);
}

/**
 * What a proxier that has only ever seen `rules` programs, compared with what a long-running
 * proxier left in namespace `ns`: a fresh proxier's one full sync into empty fakes. Where they
 * differ, either the fakes drifted from the kernel or incremental syncs drifted from a full one.
 */
export async function assertProxyRulesMatchKernel(
  mode: ProxyMode,
  net: ProxyNetwork,
  rules: ServicePortRule[],
  ns: string,
): Promise<void> {
  const fakes = { nftables: new FakeNftables(), iptables: new FakeIptables() };
  await createProxier(mode, net, { ...fakes, conntrack: new FakeConntrack() }).sync(rules, true);
  await assertProxyFakeMatchesKernel(mode, fakes, ns);
}
