// The real proxiers and sync loop against in-memory kernels, with a packet tracer answering
// where a packet goes through the rules they programmed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProxyMode } from '../../src/api/types.js';
import type { ServicePortRule } from '../../src/proxy/model.js';
import { createProxier, type Proxier } from '../../src/proxy/proxier.js';
import { ProxySyncer } from '../../src/proxy/syncer.js';
import { createLogger } from '../../src/util/log.js';
import { FakeConntrack } from '../helpers/fake-conntrack.js';
import { FakeIptables } from '../helpers/fake-iptables.js';
import { FakeNftables } from '../helpers/fake-nftables.js';
import { traceIptables, traceNft, type Outcome, type Packet } from '../helpers/packet-tracer.js';
import { CLUSTER } from '../helpers/proxy-topology.js';
import { webRule } from '../helpers/proxy-rules.js';

const NODE_IP = '172.31.0.1';
const NET = { ...CLUSTER, nodePodCIDR: '10.244.1.0/24' };

interface Rig {
  proxier: Proxier;
  nft: FakeNftables;
  ipt: FakeIptables;
  conntrack: FakeConntrack;
  trace(packet: Partial<Packet>): Outcome[];
  /** The programmed state, independent of the order it was built in. */
  content(): string[];
}

function rig(mode: ProxyMode): Rig {
  const nft = new FakeNftables();
  const ipt = new FakeIptables();
  const conntrack = new FakeConntrack();
  const proxier = createProxier(mode, NET, { nftables: nft, iptables: ipt, conntrack });
  return {
    proxier,
    nft,
    ipt,
    conntrack,
    trace: (packet) => {
      const p: Packet = {
        src: '10.244.1.9',
        dst: '10.96.0.20',
        protocol: 'TCP',
        dport: 80,
        from: 'pod',
        local: [NODE_IP],
        ...packet,
      };
      return mode === 'nftables' ? traceNft(nft, p) : traceIptables(ipt, p);
    },
    content: () =>
      mode === 'nftables'
        ? nft.script('ip podnet').trim().split('\n').sort()
        : ['nat', 'filter']
            .flatMap((t) =>
              [...ipt.tables[t as 'nat' | 'filter']].map(
                ([c, rules]) => `${t} ${c}: ${rules.join(' | ')}`,
              ),
            )
            .sort(),
  };
}

/** Outcomes with probabilities rounded (iptables' statistic probabilities have ten decimals). */
function rounded(outcomes: Outcome[]): Outcome[] {
  return outcomes
    .map((o) => ({ ...o, probability: Math.round(o.probability * 1e6) / 1e6 }))
    .sort((a, b) => (a.to ?? '').localeCompare(b.to ?? ''));
}

const third = Math.round(1e6 / 3) / 1e6;

for (const mode of ['nftables', 'iptables'] as ProxyMode[]) {
  test(`${mode}: a pod's packet to a ClusterIP goes to one of 3 endpoints, 1/3 each`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(3)], true);
    assert.deepEqual(rounded(r.trace({})), [
      { verdict: 'accept', to: '10.244.1.5:8080', masquerade: false, probability: third },
      { verdict: 'accept', to: '10.244.2.5:8080', masquerade: false, probability: third },
      { verdict: 'accept', to: '10.244.3.5:8080', masquerade: false, probability: third },
    ]);
    // Another port of the same IP is not the service: untouched.
    assert.deepEqual(r.trace({ dport: 81 }), [
      { verdict: 'accept', to: undefined, masquerade: false, probability: 1 },
    ]);
  });

  test(`${mode}: NodePort on the host's address is translated and masqueraded`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(2, { nodePort: 30080 })], true);
    assert.deepEqual(rounded(r.trace({ src: '172.31.0.2', dst: NODE_IP, dport: 30080 })), [
      { verdict: 'accept', to: '10.244.1.5:8080', masquerade: true, probability: 0.5 },
      { verdict: 'accept', to: '10.244.2.5:8080', masquerade: true, probability: 0.5 },
    ]);
    // Not the host's address: not a node port.
    assert.equal(r.trace({ dst: '172.31.0.9', dport: 30080 })[0]!.to, undefined);
  });

  test(`${mode}: a service without endpoints is rejected, its node port too`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(0, { nodePort: 30081 })], true);
    assert.deepEqual(r.trace({}), [
      { verdict: 'reject', to: undefined, masquerade: false, probability: 1 },
    ]);
    assert.equal(r.trace({ dst: NODE_IP, dport: 30081 })[0]!.verdict, 'reject');
    assert.equal(r.trace({ from: 'host', src: NODE_IP })[0]!.verdict, 'reject');
  });

  test(`${mode}: a pod reaching itself through its service is masqueraded (hairpin)`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(1)], true);
    assert.deepEqual(r.trace({ src: '10.244.1.5' }), [
      { verdict: 'accept', to: '10.244.1.5:8080', masquerade: true, probability: 1 },
    ]);
  });

  test(`${mode}: the host itself reaching a service is masqueraded`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(1)], true);
    assert.deepEqual(r.trace({ from: 'host', src: NODE_IP }), [
      { verdict: 'accept', to: '10.244.1.5:8080', masquerade: true, probability: 1 },
    ]);
  });

  test(`${mode}: ClientIP affinity still spreads new clients over every endpoint`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(2, { affinitySeconds: 60 })], true);
    assert.deepEqual(
      rounded(r.trace({})).map((o) => [o.to, o.probability]),
      [
        ['10.244.1.5:8080', 0.5],
        ['10.244.2.5:8080', 0.5],
      ],
    );
  });

  test(`${mode}: scaling 3 → 1 → 0 by partial syncs: the tracer follows each step`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(3)], true);
    await r.proxier.sync([webRule(1)], false);
    assert.deepEqual(r.trace({}), [
      { verdict: 'accept', to: '10.244.1.5:8080', masquerade: false, probability: 1 },
    ]);
    await r.proxier.sync([webRule(0)], false);
    assert.equal(r.trace({})[0]!.verdict, 'reject');
  });

  test(`${mode}: any sequence of partial syncs ends where one full sync would`, async () => {
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const randomRules = (): ServicePortRule[] =>
      Array.from({ length: rand(5) }, (_, i) =>
        webRule(rand(4), {
          name: `shop/s${i}:`,
          clusterIP: `10.96.0.${20 + i}`,
          protocol: rand(2) ? 'TCP' : 'UDP',
          nodePort: rand(2) ? 30000 + i : undefined,
          affinitySeconds: rand(3) === 0 ? 60 : undefined,
        }),
      );
    const r = rig(mode);
    await r.proxier.sync([], true);
    for (let round = 0; round < 100; round++) {
      const rules = randomRules();
      // The fake refuses any script the kernel would (a missing chain, a busy set, ...).
      await r.proxier.sync(rules, false);
      const fresh = rig(mode);
      await fresh.proxier.sync(rules, true);
      assert.deepEqual(r.content(), fresh.content(), `round ${round}`);
    }
  });

  test(`${mode}: nothing changed: nothing sent`, async () => {
    const r = rig(mode);
    await r.proxier.sync([webRule(3)], true);
    const sent = mode === 'nftables' ? r.nft.transactions : r.ipt.transactions;
    const before = sent.length;
    assert.equal((await r.proxier.sync([webRule(3)], false)).sent, 0);
    assert.equal(sent.length, before);
  });

  test(`${mode}: the sync loop repairs flushed rules and keeps the old ones on a rejected sync`, async () => {
    const r = rig(mode);
    const log = createLogger('proxy-test');
    log.level = 'silent';
    const errors: (string | undefined)[] = [];
    const syncer = new ProxySyncer(r.proxier, {
      log,
      minIntervalMs: 0,
      checkIntervalMs: 60_000,
      conntrack: r.conntrack,
      onSynced: (error) => errors.push(error),
    });
    try {
      syncer.update([webRule(2)], 'start');
      await syncer.idle();
      const programmed = r.content();
      if (mode === 'nftables') r.nft.flushRuleset();
      else r.ipt.flush('nat');
      assert.equal(r.trace({})[0]!.to, undefined, 'flushed: nothing translated');
      assert.equal(await syncer.checkCanary(), false);
      await syncer.idle();
      assert.deepEqual(r.content(), programmed);
      assert.equal(r.trace({}).length, 2);

      syncer.update([webRule(2), webRule(1, { name: 'x/bad:', clusterIP: '10.96.0.300' })], 'bad');
      await syncer.idle();
      assert.match(errors.at(-1)!, new RegExp(`${mode} sync failed`));
      assert.deepEqual(r.content(), programmed, 'the kernel kept what it had');
    } finally {
      await syncer.stop();
    }
  });

  test(`${mode}: UDP endpoints that went away have their flows deleted`, async () => {
    const r = rig(mode);
    const log = createLogger('proxy-test');
    log.level = 'silent';
    const syncer = new ProxySyncer(r.proxier, { log, minIntervalMs: 0, conntrack: r.conntrack });
    try {
      syncer.update([webRule(2, { protocol: 'UDP', port: 53 })], 'start');
      await syncer.idle();
      syncer.update([webRule(1, { protocol: 'UDP', port: 53 })], 'scale down');
      await syncer.idle();
      assert.deepEqual(r.conntrack.deleted, [
        { protocol: 'udp', serviceIP: '10.96.0.20', port: 53, endpointIP: '10.244.2.5' },
      ]);
    } finally {
      await syncer.stop();
    }
  });
}

test('nftables: one endpoint change sends that element and nothing else', async () => {
  const r = rig('nftables');
  const api = webRule(3, { name: 'shop/api:', clusterIP: '10.96.0.21' });
  await r.proxier.sync([webRule(3), api], true);
  const changed = webRule(3);
  changed.endpoints[1] = { ip: '10.244.1.99', port: 8080 };
  await r.proxier.sync([changed, api], false);
  assert.deepEqual(r.nft.transactions.at(-1)!.trim().split('\n'), [
    'delete element ip podnet backends-tcp-n3 { 10.96.0.20 . 80 . 1 }',
    // The new endpoint is on this node: it may reach itself through the service.
    'add element ip podnet hairpin { 10.244.1.99 . 10.244.1.99 }',
    'add element ip podnet backends-tcp-n3 { 10.96.0.20 . 80 . 1 : 10.244.1.99 . 8080 }',
  ]);
});

test('the fake nftables refuses what the kernel refuses', async () => {
  const nft = new FakeNftables();
  await nft.run('add table ip t\nadd chain ip t a\nadd chain ip t b\nadd rule ip t a jump b\n');
  await assert.rejects(nft.run('delete chain ip t b\n'), /busy/);
  await assert.rejects(nft.run('add rule ip t a jump c\n'), /No such file/);
  await assert.rejects(nft.run('add rule ip t a ip daddr @s accept\n'), /No such file/);
  await assert.rejects(
    nft.run(
      'add map ip t m { type ipv4_addr : verdict; }\nadd element ip t m { 10.0.0.1 : goto c }\n',
    ),
    /No such file/,
  );
  await assert.rejects(
    nft.run('add set ip t s { type ipv4_addr; }\ndelete element ip t s { 10.0.0.1 }\n'),
    /No such file/,
  );
  await assert.rejects(
    nft.run('add set ip t s { type ipv4_addr; }\nadd element ip t s { 10.0.0.256 }\n'),
    /resolve/,
  );
  // All or nothing: the chain of the failed script's first line is not there.
  await assert.rejects(nft.run('add chain ip t c\nadd rule ip t c jump nowhere\n'));
  assert.equal(await nft.listChain('ip', 't', 'c'), undefined);
});

test('the fake iptables refuses what iptables-restore refuses', async () => {
  const ipt = new FakeIptables();
  await ipt.restore('*nat\n:A - [0:0]\n-A PREROUTING -j A\nCOMMIT\n');
  await assert.rejects(ipt.restore('*nat\n-X A\nCOMMIT\n'), /referenced/);
  await assert.rejects(ipt.restore('*nat\n-A PREROUTING -j B\nCOMMIT\n'), /target B/);
  await assert.rejects(ipt.restore('*nat\n-D PREROUTING -j C\nCOMMIT\n'), /no such rule/);
  await assert.rejects(ipt.restore('*nat\n-A A -d 10.0.0.256/32 -j RETURN\nCOMMIT\n'), /not found/);
  await assert.rejects(ipt.restore('*nat\n:B - [0:0]\n-A B -j NOPE\nCOMMIT\n'));
  assert.equal(await ipt.listChain('nat', 'B'), undefined);
});
