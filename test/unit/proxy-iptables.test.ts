import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  JUMP_RULES,
  desiredChains,
  affinityListName,
  missingJumpRules,
  parseSave,
  restoreText,
  serviceChainName,
} from '../../src/proxy/iptables-rules.js';
import { CLUSTER } from '../helpers/proxy-topology.js';
import { webRule } from '../helpers/proxy-rules.js';

test('chain names are PODNET-SVC-/PODNET-SEP- plus a hash, at most 28 characters', () => {
  const rule = webRule(1);
  assert.match(serviceChainName(rule), /^PODNET-SVC-[A-Z2-7]{16}$/);
  assert.match(affinityListName(rule, rule.endpoints[0]!), /^PODNET-SEP-[A-Z2-7]{16}$/);
  assert.ok(serviceChainName(rule).length <= 28);
});

test('the dispatch chain sends the cluster IP to the service chain, node ports last', () => {
  const rule = webRule(3);
  const { nat } = desiredChains([rule], CLUSTER);
  assert.deepEqual(nat.get('PODNET-SERVICES'), [
    `-d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "shop/web:http" -j ${serviceChainName(rule)}`,
    '-m addrtype --dst-type LOCAL -m comment --comment "podnet service nodeports; NOTE: this must be the last rule in this chain" -j PODNET-NODEPORTS',
  ]);
});

/** The share of new connections each endpoint gets, read from the statistic/DNAT rules. */
function shares(lines: string[]): Map<string, number> {
  const out = new Map<string, number>();
  let left = 1;
  for (const line of lines) {
    const target = /-j DNAT --to-destination (\S+)$/.exec(line)?.[1];
    if (!target || line.includes('--rcheck')) continue;
    const p = /--probability (\S+)/.exec(line);
    const share = left * (p ? Number(p[1]) : 1);
    out.set(target, share);
    left -= share;
  }
  return out;
}

test('each of n endpoints gets exactly 1/n of new connections', () => {
  for (const n of [1, 2, 3, 5, 10, 37]) {
    const rule = webRule(n);
    const svc = desiredChains([rule], CLUSTER).nat.get(serviceChainName(rule))!;
    const got = shares(svc);
    assert.equal(got.size, n);
    for (const share of got.values()) assert.ok(Math.abs(share - 1 / n) < 1e-9, `n=${n}`);
  }
});

test('the service chain: masquerade off-cluster and hairpin, then 1/3, 1/2, the rest', () => {
  const rule = webRule(3);
  const c = '-m comment --comment "shop/web:http"';
  assert.deepEqual(desiredChains([rule], CLUSTER).nat.get(serviceChainName(rule)), [
    `! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m tcp --dport 80 ${c} -j PODNET-MARK-MASQ`,
    // Hairpin: an endpoint calling its own service is masqueraded.
    `-s 10.244.1.5/32 ${c} -j PODNET-MARK-MASQ`,
    `-s 10.244.2.5/32 ${c} -j PODNET-MARK-MASQ`,
    `-s 10.244.3.5/32 ${c} -j PODNET-MARK-MASQ`,
    `-p tcp -m tcp ${c} -m statistic --mode random --probability 0.3333333333 -j DNAT --to-destination 10.244.1.5:8080`,
    `-p tcp -m tcp ${c} -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.244.2.5:8080`,
    `-p tcp -m tcp ${c} -j DNAT --to-destination 10.244.3.5:8080`,
  ]);
});

test('hairpin rules only for endpoints on this node', () => {
  const rule = webRule(3);
  const svc = desiredChains([rule], { ...CLUSTER, nodePodCIDR: '10.244.2.0/24' }).nat.get(
    serviceChainName(rule),
  )!;
  assert.deepEqual(
    svc.filter((l) => l.startsWith('-s ')),
    ['-s 10.244.2.5/32 -m comment --comment "shop/web:http" -j PODNET-MARK-MASQ'],
  );
});

test('one chain per service port: no per-endpoint chains', () => {
  const { nat } = desiredChains([webRule(10)], CLUSTER);
  assert.equal([...nat.keys()].filter((c) => /^PODNET-S(VC|EP)-/.test(c)).length, 1);
});

test('masquerade by mark, and pod egress beyond the cluster is masqueraded', () => {
  const { nat } = desiredChains([], CLUSTER);
  assert.deepEqual(nat.get('PODNET-MARK-MASQ'), ['-j MARK --or-mark 0x4000']);
  assert.deepEqual(nat.get('PODNET-POSTROUTING'), [
    '-m mark ! --mark 0x4000/0x4000 -g PODNET-EGRESS',
    '-j MARK --xor-mark 0x4000',
    '-m comment --comment "podnet service traffic requiring SNAT" -j MASQUERADE --random-fully',
  ]);
  assert.deepEqual(nat.get('PODNET-EGRESS'), [
    '-d 10.244.0.0/16 -j RETURN',
    '-d 10.96.0.0/16 -j RETURN',
    '-d 224.0.0.0/4 -j RETURN',
    '-s 10.244.0.0/16 -m comment --comment "podnet pod egress" -j MASQUERADE --random-fully',
  ]);
});

test('NodePorts are marked for masquerade and sent to the service chain', () => {
  const rule = webRule(2, { nodePort: 30080 });
  assert.deepEqual(desiredChains([rule], CLUSTER).nat.get('PODNET-NODEPORTS'), [
    '-p tcp -m tcp --dport 30080 -m comment --comment "shop/web:http" -j PODNET-MARK-MASQ',
    `-p tcp -m tcp --dport 30080 -m comment --comment "shop/web:http" -j ${serviceChainName(rule)}`,
  ]);
});

test('ClientIP affinity: recent checks before the random rules, recent set on DNAT', () => {
  const rule = webRule(2, { affinitySeconds: 60 });
  const svc = desiredChains([rule], CLUSTER).nat.get(serviceChainName(rule))!;
  const [a, b] = rule.endpoints.map((ep) => affinityListName(rule, ep));
  const c = '-m comment --comment "shop/web:http"';
  assert.deepEqual(svc.slice(3), [
    `-p tcp -m tcp -m recent --rcheck --seconds 60 --reap --name ${a} --mask 255.255.255.255 --rsource ${c} -j DNAT --to-destination 10.244.1.5:8080`,
    `-p tcp -m tcp -m recent --rcheck --seconds 60 --reap --name ${b} --mask 255.255.255.255 --rsource ${c} -j DNAT --to-destination 10.244.2.5:8080`,
    `-p tcp -m tcp ${c} -m statistic --mode random --probability 0.5000000000 -m recent --set --name ${a} --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.244.1.5:8080`,
    `-p tcp -m tcp ${c} -m recent --set --name ${b} --mask 255.255.255.255 --rsource -j DNAT --to-destination 10.244.2.5:8080`,
  ]);
  for (const share of shares(svc).values()) assert.ok(Math.abs(share - 0.5) < 1e-9);
});

test('a service with no endpoints is logged as refused, then rejected in the filter table, NodePort too', () => {
  const rule = webRule(0, { nodePort: 30081, protocol: 'UDP' });
  const { nat, filter } = desiredChains([rule], CLUSTER);
  assert.ok(![...nat.keys()].some((c) => c.startsWith('PODNET-SVC-')));
  const log =
    '-m limit --limit 20/sec --limit-burst 20 -j NFLOG --nflog-prefix podnet-refused --nflog-group 19';
  const clusterIP =
    '-d 10.96.0.20/32 -p udp -m udp --dport 80 -m comment --comment "shop/web:http has no endpoints"';
  const nodePort =
    '-m addrtype --dst-type LOCAL -p udp -m udp --dport 30081 -m comment --comment "shop/web:http has no endpoints"';
  assert.deepEqual(filter.get('PODNET-SERVICES'), [
    `${clusterIP} ${log}`,
    `${clusterIP} -j REJECT`,
    `${nodePort} ${log}`,
    `${nodePort} -j REJECT`,
  ]);
});

test('a full restore declares every chain, fills it, and inserts missing jump rules', () => {
  const desired = desiredChains([webRule(2)], CLUSTER);
  const { text } = restoreText(desired, undefined, undefined, JUMP_RULES[4]);
  assert.match(text, /^\*filter\n:PODNET-CANARY - \[0:0\]\n/);
  assert.ok(
    text.includes(
      '-I PREROUTING 1 -m comment --comment "podnet service portals" -j PODNET-SERVICES\n',
    ),
  );
  assert.ok(
    text.includes(
      '-I INPUT 1 -m conntrack --ctstate NEW -m comment --comment "podnet services without endpoints" -j PODNET-SERVICES\n',
    ),
  );
  assert.equal(text.match(/^COMMIT$/gm)?.length, 2);
  for (const chain of desired.nat.keys()) assert.ok(text.includes(`:${chain} - [0:0]\n`));
});

test('a partial restore rewrites changed service chains and edits the dispatch chain', () => {
  const api = webRule(2, { name: 'shop/api:', clusterIP: '10.96.0.21' });
  const added = webRule(1, { name: 'shop/new:', clusterIP: '10.96.0.22' });
  const plan = restoreText(
    desiredChains([webRule(2), added], CLUSTER),
    desiredChains([webRule(3), api], CLUSTER),
  );
  const lines = plan.text.trim().split('\n');
  assert.deepEqual(
    lines.filter((l) => l.startsWith(':')),
    [
      `:${serviceChainName(webRule(3))} - [0:0]`,
      `:${serviceChainName(added)} - [0:0]`,
      `:${serviceChainName(api)} - [0:0]`,
    ],
  );
  assert.ok(
    lines.includes(
      `-D PODNET-SERVICES -d 10.96.0.21/32 -p tcp -m tcp --dport 80 -m comment --comment "shop/api:" -j ${serviceChainName(api)}`,
    ),
  );
  assert.ok(
    lines.includes(
      `-I PODNET-SERVICES 1 -d 10.96.0.22/32 -p tcp -m tcp --dport 80 -m comment --comment "shop/new:" -j ${serviceChainName(added)}`,
    ),
  );
  assert.equal(lines.at(-2), `-X ${serviceChainName(api)}`);
  assert.ok(!plan.text.includes('*filter'), 'the filter table did not change');
  assert.equal(plan.deleted, 1);
});

test('new dispatch rules keep their order: inserted at the top in reverse', () => {
  const plan = restoreText(
    desiredChains([webRule(1, { nodePort: 30080 })], CLUSTER),
    desiredChains([], CLUSTER),
  );
  const np = plan.text.split('\n').filter((l) => l.startsWith('-I PODNET-NODEPORTS 1'));
  assert.match(np[0]!, /-j PODNET-SVC-/);
  assert.match(np[1]!, /-j PODNET-MARK-MASQ$/);
});

test('nothing changed: nothing is sent', () => {
  const plan = restoreText(
    desiredChains([webRule(3)], CLUSTER),
    desiredChains([webRule(3)], CLUSTER),
  );
  assert.equal(plan.text, '');
});

test('stray chains of an earlier run are flushed and deleted on a full sync', () => {
  const desired = desiredChains([webRule(1)], CLUSTER);
  const plan = restoreText(desired, undefined, { nat: ['PODNET-SVC-OLD'], filter: [] });
  assert.ok(plan.text.includes(':PODNET-SVC-OLD - [0:0]\n'));
  assert.ok(plan.text.includes('-X PODNET-SVC-OLD\nCOMMIT'));
});

test('iptables-save tells which podnet chains and jump rules exist', () => {
  const save = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':PODNET-SERVICES - [0:0]',
    ':PODNET-SVC-ABC - [0:0]',
    '-A PREROUTING -m comment --comment "podnet service portals" -j PODNET-SERVICES',
    'COMMIT',
  ].join('\n');
  const { chains, jumps } = parseSave('nat', save, 4);
  assert.deepEqual(chains, ['PODNET-SERVICES', 'PODNET-SVC-ABC']);
  assert.deepEqual(
    jumps.map((j) => `${j.table}/${j.chain}`),
    ['nat/PREROUTING'],
  );
  assert.equal(missingJumpRules(jumps, 4).length, JUMP_RULES[4].length - 1);
});
