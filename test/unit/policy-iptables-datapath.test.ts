// The iptables policy datapath against the fake ipset and iptables: the first apply writes sets
// and chains, an unchanged apply reads one chain and sends nothing, a restarted agent that
// wants the same state sends nothing either, pod and label churn changes set members only, a
// rule change rewrites chains, a flushed table is noticed, drops are read per isolating policy
// set and per admin Deny rule from the drop rules' counters, and the opt-in log sends drops to an NFLOG group first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applySetsAndRules } from '../../src/kernel/ipset-rules.js';
import type { PolicyInputs } from '../../src/policy/datapath.js';
import {
  MARKER_CHAIN,
  droppedPackets,
  iptablesPolicyDatapath,
  type PolicyIptablesKernel,
} from '../../src/policy/iptables-datapath.js';
import { FakeIpset } from '../helpers/fake-ipset.js';
import { FakeIptables } from '../helpers/fake-iptables.js';
import {
  allowFromB,
  denyFromY,
  denyIngressX,
  matrixInputs as inputs,
} from '../helpers/netpol-matrix.js';

/** One node's fake kernel, counting every read and write the datapath makes. */
class Node implements PolicyIptablesKernel {
  readonly ipset = new FakeIpset();
  readonly iptables = new FakeIptables(this.ipset);
  reads = 0;
  /** Packets each `-j DROP` of a podnet chain reports. */
  dropCount = 0;

  apply(wanted: Parameters<PolicyIptablesKernel['apply']>[0]) {
    this.reads += 2;
    return applySetsAndRules({ ipset: this.ipset, iptables: this.iptables }, wanted);
  }
  listChain(chain: string) {
    this.reads++;
    return this.iptables.listChain('filter', chain);
  }
  async saveCounters() {
    const save = await this.iptables.save('filter');
    return save
      .split('\n')
      .map((l) => (l.startsWith('-A ') ? `[${/-j DROP$/.test(l) ? this.dropCount : 0}:0] ${l}` : l))
      .join('\n');
  }
  writes(): number {
    return this.ipset.scripts.length + this.iptables.transactions.length;
  }
}

test('an unchanged cluster reads one chain and sends nothing, also after an agent restart', async () => {
  const node = new Node();
  const want = inputs([denyIngressX, allowFromB(80)]);
  const datapath = iptablesPolicyDatapath(node);
  assert.equal((await datapath.apply(want)).change, 'table');
  const written = node.writes();
  assert.ok(node.iptables.tables.filter.has(MARKER_CHAIN));
  node.reads = 0;
  assert.deepEqual(await datapath.apply(want), { change: 'none', sent: 0 });
  assert.equal(node.reads, 1);
  assert.deepEqual(await iptablesPolicyDatapath(node).apply(want), { change: 'none', sent: 0 });
  assert.equal(node.writes(), written);
});

test('pod and label churn changes set members and the marker, never a policy rule', async () => {
  const node = new Node();
  const datapath = iptablesPolicyDatapath(node);
  await datapath.apply(inputs([denyIngressX, allowFromB(80)]));
  const before = new Map(node.iptables.tables.filter);
  const churned = inputs([denyIngressX, allowFromB(80)], (pods) =>
    pods.map((p) => {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      if (key === 'x/c') return { ...p, metadata: { ...p.metadata, labels: { pod: 'b' } } };
      return p;
    }),
  );
  const rules = node.iptables.transactions.length;
  assert.equal((await datapath.apply(churned)).change, 'elements');
  const restore = node.iptables.transactions.slice(rules).join('');
  for (const line of restore.trim().split('\n'))
    assert.match(line, new RegExp(`^(\\*filter|COMMIT|:${MARKER_CHAIN} |-A ${MARKER_CHAIN} )`));
  for (const [chain, lines] of before)
    if (chain !== MARKER_CHAIN) assert.deepEqual(node.iptables.tables.filter.get(chain), lines);
});

test('a rule change rewrites chains; nothing isolated leaves nothing behind', async () => {
  const node = new Node();
  const datapath = iptablesPolicyDatapath(node);
  await datapath.apply(inputs([denyIngressX, allowFromB(80)]));
  assert.equal((await datapath.apply(inputs([denyIngressX, allowFromB(81)]))).change, 'table');
  assert.match(await node.iptables.save('filter'), /--dport 81 /);
  assert.equal((await datapath.apply(inputs([]))).change, 'table');
  assert.doesNotMatch(await node.iptables.save('filter'), /PODNET-NP-/);
  assert.equal(node.ipset.sets.size, 0);
  assert.deepEqual(await datapath.apply(inputs([])), { change: 'none', sent: 0 });
});

test('a filter table someone flushed is found by a check, and written again', async () => {
  const node = new Node();
  const datapath = iptablesPolicyDatapath(node);
  const want = inputs([denyIngressX]);
  await datapath.apply(want);
  assert.equal(await datapath.check(), 'holds');
  node.iptables.flush('filter');
  assert.equal(await datapath.check(), 'differs');
  assert.equal((await datapath.apply(want)).change, 'table');
  assert.equal(await datapath.check(), 'holds');
  assert.ok((node.iptables.tables.filter.get(MARKER_CHAIN) ?? []).length === 1);
});

test('drops are read per isolating policy set from the drop rules’ counters', async () => {
  const node = new Node();
  const datapath = iptablesPolicyDatapath(node);
  assert.deepEqual(await datapath.drops(), []);
  await datapath.apply(inputs([denyIngressX, allowFromB(80)]));
  node.dropCount = 7;
  const drops = await datapath.drops();
  assert.deepEqual(drops.map((d) => `${d.direction} ${d.policies.join(',')} ${d.packets}`).sort(), [
    'Ingress x/allow-from-b,x/deny-ingress 7',
    'Ingress x/deny-ingress 7',
  ]);
});

test('counted drops are only those of podnet’s chains', () => {
  const save = [
    '[3:180] -A PODNET-NP-IN-aaa -j DROP',
    '[5:300] -A FORWARD -j DROP',
    '[9:540] -A PODNET-NP-IN-bbb -m mark --mark 0x10000/0x10000 -j RETURN',
  ].join('\n');
  assert.deepEqual([...droppedPackets(save)], [['PODNET-NP-IN-aaa', 3]]);
});

test('with the log on, each isolation chain sends what it drops to the NFLOG group first', async () => {
  const node = new Node();
  const log: { on?: { group: number; perSecond: number } } = {};
  const datapath = iptablesPolicyDatapath(node, () => log.on);
  await datapath.apply(inputs([denyIngressX]));
  assert.doesNotMatch(await node.iptables.save('filter'), /NFLOG/);
  log.on = { group: 7, perSecond: 20 };
  assert.equal((await datapath.apply(inputs([denyIngressX]))).change, 'table');
  const chain = [...node.iptables.tables.filter].find(([c]) => c.startsWith('PODNET-NP-IN-'))!;
  assert.deepEqual(chain[1].slice(-2), [
    `-m limit --limit 20/sec --limit-burst 20 -j NFLOG --nflog-prefix ${chain[0]} --nflog-group 7`,
    '-j DROP',
  ]);
});

test('an admin Deny rule’s drops are logged, counted and named by its rule; a restart sends nothing', async () => {
  const node = new Node();
  const log = { group: 18, perSecond: 20 };
  const want: PolicyInputs = { ...inputs([]), adminPolicies: [denyFromY] };
  const datapath = iptablesPolicyDatapath(node, () => log);
  assert.equal((await datapath.apply(want)).change, 'table');
  node.dropCount = 3;
  assert.deepEqual(await datapath.drops(), [
    { direction: 'Ingress', policies: ['anp/deny-y rule no-y'], packets: 3 },
  ]);
  const [deny, rules] = [...node.iptables.tables.filter].find(([c]) =>
    c.startsWith('PODNET-NP-IND-'),
  )!;
  assert.deepEqual(rules, [
    `-m limit --limit 20/sec --limit-burst 20 -j NFLOG --nflog-prefix ${deny} --nflog-group 18`,
    '-j DROP',
  ]);
  const tier = [...node.iptables.tables.filter].find(([c]) => c.startsWith('PODNET-NP-INT-'))!;
  assert.match(
    tier[1][0]!,
    new RegExp(`^-m set --match-set PODNET-NP-SEL-\\w{12} src -g ${deny}$`),
  );
  assert.deepEqual(datapath.isolationOf(deny), {
    direction: 'Ingress',
    policies: ['anp/deny-y rule no-y'],
  });
  const writes = node.writes();
  assert.deepEqual(await iptablesPolicyDatapath(node, () => log).apply(want), {
    change: 'none',
    sent: 0,
  });
  assert.equal(node.writes(), writes, 'a restarted agent rewrote what the kernel lists back');
});

test('trusting what it programmed, an unchanged apply reads nothing', async () => {
  const node = new Node();
  const want = inputs([denyIngressX, allowFromB(80)]);
  const datapath = iptablesPolicyDatapath(node);
  await datapath.apply(want);
  node.reads = 0;
  assert.deepEqual(await datapath.apply(want, true), { change: 'none', sent: 0 });
  assert.equal(node.reads, 0);
});

test('remove takes out every chain, jump and set, also those a restarted agent did not program', async () => {
  const node = new Node();
  await iptablesPolicyDatapath(node).apply(inputs([denyIngressX, allowFromB(80)]));
  assert.match(await node.iptables.save('filter'), /-A FORWARD .*-j PODNET-NP-FORWARD/);
  const restarted = iptablesPolicyDatapath(node);
  await restarted.remove();
  assert.doesNotMatch(await node.iptables.save('filter'), /PODNET-NP-/);
  assert.equal(node.ipset.sets.size, 0);
  const writes = node.writes();
  await restarted.remove();
  assert.equal(node.writes(), writes, 'nothing left: nothing sent');
});
