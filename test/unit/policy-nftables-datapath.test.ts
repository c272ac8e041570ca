// The nftables policy datapath against the fake nft: the first apply writes the table, an
// unchanged apply (also by a restarted agent) sends nothing, pod and label churn sends element
// changes only, a rule change replaces the table in one transaction, a flushed table is
// noticed, and drops are read per isolating policy set and per admin Deny rule. After every apply the fake holds
// exactly what a fresh render would create.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PolicyInputs } from '../../src/policy/datapath.js';
import { renderPolicyTable } from '../../src/policy/nftables.js';
import { nftablesPolicyDatapath } from '../../src/policy/nftables-datapath.js';
import { FakeNftables } from '../helpers/fake-nftables.js';
import {
  allowFromB,
  denyFromY,
  denyIngressX,
  matrixInputs as inputs,
} from '../helpers/netpol-matrix.js';

const TABLE = 'ip podnet-policy';

/** The table a fresh render of `want` creates, loaded into an empty fake. */
async function freshTable(want: PolicyInputs): Promise<string> {
  const fake = new FakeNftables();
  await fake.run(renderPolicyTable(want.policies, want.namespaces, want.pods, want.localPods));
  return sortedElements(fake.script(TABLE));
}

/** Element lines with their elements sorted: a set's order is not part of its meaning. */
function sortedElements(script: string): string {
  return script.replace(/\{ ([^}]*) \}$/gm, (all: string, items: string) =>
    all.startsWith('{ type') ? all : `{ ${items.split(', ').sort().join(', ')} }`,
  );
}

/** The fake's table without the marker chain, which a fresh render does not have. */
function withoutMarker(fake: FakeNftables): string {
  return sortedElements(
    fake
      .script(TABLE)
      .split('\n')
      .filter((l) => !/ programmed( |$)/.test(l))
      .join('\n'),
  );
}

test('an unchanged cluster sends nothing, also after an agent restart', async () => {
  const fake = new FakeNftables();
  const want = inputs([denyIngressX, allowFromB(80)]);
  assert.equal((await nftablesPolicyDatapath(fake).apply(want)).change, 'table');
  assert.equal(withoutMarker(fake), await freshTable(want));
  const again = await nftablesPolicyDatapath(fake).apply(want);
  assert.deepEqual(again, { change: 'none', sent: 0 });
  assert.equal(fake.transactions.length, 1);
});

test('pod and label churn changes elements, never rules', async () => {
  const fake = new FakeNftables();
  const datapath = nftablesPolicyDatapath(fake);
  await datapath.apply(inputs([denyIngressX, allowFromB(80)]));
  // x/c takes the label of b: it joins the allowed peers; z/a moves to another address.
  const churned = inputs([denyIngressX, allowFromB(80)], (pods) =>
    pods.map((p) => {
      const key = `${p.metadata.namespace}/${p.metadata.name}`;
      if (key === 'x/c') return { ...p, metadata: { ...p.metadata, labels: { pod: 'b' } } };
      if (key === 'x/a') return { ...p, status: { ...p.status, podIP: '10.244.1.99' } };
      return p;
    }),
  );
  const outcome = await datapath.apply(churned);
  assert.equal(outcome.change, 'elements');
  const script = fake.transactions.at(-1)!;
  for (const line of script.trim().split('\n'))
    assert.match(
      line,
      /^(add element|delete element|flush chain ip podnet-policy programmed|add rule ip podnet-policy programmed)/,
    );
  assert.match(script, /delete element ip podnet-policy ingress-pods \{ 10\.244\.1\.10 \}/);
  assert.equal(withoutMarker(fake), await freshTable(churned));
});

test('a rule change replaces the table in one transaction', async () => {
  const fake = new FakeNftables();
  const datapath = nftablesPolicyDatapath(fake);
  await datapath.apply(inputs([denyIngressX, allowFromB(80)]));
  const updated = inputs([denyIngressX, allowFromB(81)]);
  assert.equal((await datapath.apply(updated)).change, 'table');
  assert.equal(fake.transactions.length, 2);
  assert.match(
    fake.transactions[1]!,
    /^add table ip podnet-policy\ndelete table ip podnet-policy\n/,
  );
  assert.equal(withoutMarker(fake), await freshTable(updated));
});

test('a table someone flushed is found by a check, and written again', async () => {
  const fake = new FakeNftables();
  const datapath = nftablesPolicyDatapath(fake);
  const want = inputs([denyIngressX]);
  assert.equal(await datapath.check(), 'unsettled', 'nothing programmed yet');
  await datapath.apply(want);
  assert.equal(await datapath.check(), 'holds');
  fake.flushRuleset();
  assert.equal(await datapath.check(), 'differs');
  assert.equal((await datapath.apply(want)).change, 'table');
  assert.equal(withoutMarker(fake), await freshTable(want));
  assert.equal(await datapath.check(), 'holds');
});

test('drops are read per isolating policy set from the counted drop of its chain', async () => {
  const fake = new FakeNftables();
  const counted = {
    run: (script: string) => fake.run(script),
    async listChain(family: string, table: string, chain: string) {
      const rules = await fake.listChain(family, table, chain);
      return rules?.map((r) => r.replace(/^counter drop$/, 'counter packets 7 bytes 420 drop'));
    },
  };
  const datapath = nftablesPolicyDatapath(counted);
  await datapath.apply(inputs([denyIngressX, allowFromB(80)]));
  const drops = await datapath.drops();
  assert.deepEqual(drops.map((d) => `${d.direction} ${d.policies.join(',')} ${d.packets}`).sort(), [
    'Ingress x/allow-from-b,x/deny-ingress 7',
    'Ingress x/deny-ingress 7',
  ]);
});

test('an admin Deny rule’s drops are logged, counted and named by its rule; a restart sends nothing', async () => {
  const fake = new FakeNftables();
  const counted = {
    run: (script: string) => fake.run(script),
    async listChain(family: string, table: string, chain: string) {
      const rules = await fake.listChain(family, table, chain);
      return rules?.map((r) => r.replace(/^counter drop$/, 'counter packets 3 bytes 180 drop'));
    },
  };
  const log = { group: 18, perSecond: 20 };
  const want: PolicyInputs = { ...inputs([]), adminPolicies: [denyFromY] };
  const datapath = nftablesPolicyDatapath(counted, () => log);
  assert.equal((await datapath.apply(want)).change, 'table');
  assert.deepEqual(await datapath.drops(), [
    { direction: 'Ingress', policies: ['anp/deny-y rule no-y'], packets: 3 },
  ]);
  const deny = fake
    .script(TABLE)
    .match(/^add chain ip podnet-policy (deny-in-[0-9a-f]{12})$/m)?.[1];
  assert.ok(deny, fake.script(TABLE));
  assert.deepEqual(await fake.listChain('ip', 'podnet-policy', deny), [
    `limit rate 20/second burst 20 packets log prefix "${deny}" group 18`,
    'counter drop',
  ]);
  assert.deepEqual(datapath.isolationOf(deny), {
    direction: 'Ingress',
    policies: ['anp/deny-y rule no-y'],
  });
  assert.deepEqual(await nftablesPolicyDatapath(counted, () => log).apply(want), {
    change: 'none',
    sent: 0,
  });
});

test('trusting what it programmed, an unchanged apply reads nothing and churn sends elements unread; a table gone meanwhile is read and rewritten', async () => {
  const fake = new FakeNftables();
  let reads = 0;
  const counted = {
    run: (script: string) => fake.run(script),
    listChain: (...args: Parameters<FakeNftables['listChain']>) => {
      reads++;
      return fake.listChain(...args);
    },
  };
  const datapath = nftablesPolicyDatapath(counted);
  const want = inputs([denyIngressX, allowFromB(80)]);
  await datapath.apply(want);
  reads = 0;
  assert.deepEqual(await datapath.apply(want, true), { change: 'none', sent: 0 });
  const moved = inputs([denyIngressX, allowFromB(80)], (pods) =>
    pods.map((p) =>
      p.metadata.name === 'a' && p.metadata.namespace === 'x'
        ? { ...p, status: { ...p.status, podIP: '10.244.1.98' } }
        : p,
    ),
  );
  assert.equal((await datapath.apply(moved, true)).change, 'elements');
  assert.equal(reads, 0);
  assert.equal(withoutMarker(fake), await freshTable(moved));
  fake.flushRuleset();
  assert.equal((await datapath.apply(want, true)).change, 'table');
  assert.ok(reads > 0);
  assert.equal(withoutMarker(fake), await freshTable(want));
});

test('remove deletes the table in one transaction, also one a restarted agent did not program; none left is no error', async () => {
  const fake = new FakeNftables();
  await nftablesPolicyDatapath(fake).apply(inputs([denyIngressX, allowFromB(80)]));
  assert.ok(fake.tables.has(TABLE));
  const restarted = nftablesPolicyDatapath(fake);
  await restarted.remove();
  assert.equal(fake.tables.has(TABLE), false);
  assert.equal(fake.transactions.length, 2);
  await restarted.remove();
  assert.equal(fake.tables.has(TABLE), false);
});
