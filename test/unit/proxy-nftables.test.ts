import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredNft, fullScript, nftCounts } from '../../src/proxy/nftables-rules.js';
import { CLUSTER } from '../helpers/proxy-topology.js';
import { webRule } from '../helpers/proxy-rules.js';

test('dispatch: one verdict-map lookup on daddr . l4proto . dport, node ports by fib', () => {
  const state = desiredNft([webRule(3)], CLUSTER);
  assert.deepEqual(state.chains.get('services'), [
    'ip daddr . meta l4proto . th dport vmap @service-ips',
    'fib daddr type local meta l4proto . th dport vmap @service-nodeports',
  ]);
  assert.deepEqual(
    [...state.elements.get('service-ips')!.values()],
    ['10.96.0.20 . 6 . 80 : goto backends-tcp-n3'],
  );
});

test('n endpoints: numgen random mod n over a named map, index i → endpoint i', () => {
  const state = desiredNft([webRule(3)], CLUSTER);
  assert.equal(
    state.sets.get('backends-tcp-n3'),
    'typeof ip daddr . tcp dport . numgen random mod 3 : ip daddr . tcp dport;',
  );
  assert.deepEqual(state.chains.get('backends-tcp-n3'), [
    'ip saddr != 10.244.0.0/16 meta mark set meta mark | 0x4000',
    'meta l4proto tcp dnat ip to ip daddr . tcp dport . numgen random mod 3 map @backends-tcp-n3',
  ]);
  // mod 3 draws 0, 1, 2 uniformly and each index holds one endpoint: exactly 1/3 each. The
  // service's elements are one entry, keyed by the run of their keys.
  assert.deepEqual(
    [...state.elements.get('backends-tcp-n3')!],
    [
      [
        '10.96.0.20 . 80 . 0, 10.96.0.20 . 80 . 1, 10.96.0.20 . 80 . 2',
        '10.96.0.20 . 80 . 0 : 10.244.1.5 . 8080, ' +
          '10.96.0.20 . 80 . 1 : 10.244.2.5 . 8080, ' +
          '10.96.0.20 . 80 . 2 : 10.244.3.5 . 8080',
      ],
    ],
  );
});

test('services with the same endpoint count and protocol share one chain and map', () => {
  const state = desiredNft(
    [webRule(2), webRule(2, { name: 'shop/api:', clusterIP: '10.96.0.21' })],
    CLUSTER,
  );
  assert.equal([...state.chains.keys()].filter((c) => c.startsWith('backends-')).length, 1);
  assert.equal(state.elements.get('backends-tcp-n2')!.size, 2);
  // Two dispatch elements, four backends, and the two endpoints' hairpin pairs, shared.
  assert.equal(nftCounts(state).elements, 2 + 4 + 2);
});

test('NodePort: a node-port map per protocol and count, always masqueraded', () => {
  const state = desiredNft([webRule(2, { nodePort: 30080, protocol: 'UDP' })], CLUSTER);
  assert.deepEqual(
    [...state.elements.get('service-nodeports')!.values()],
    ['17 . 30080 : goto nodeport-udp-n2'],
  );
  assert.deepEqual(state.chains.get('nodeport-udp-n2'), [
    'meta mark set meta mark | 0x4000',
    'meta l4proto udp dnat ip to udp dport . numgen random mod 2 map @nodeport-backends-udp-n2',
  ]);
  assert.deepEqual(
    [...state.elements.get('nodeport-backends-udp-n2')!.values()],
    ['30080 . 0 : 10.244.1.5 . 8080, 30080 . 1 : 10.244.2.5 . 8080'],
  );
});

test('no endpoints: the service and its node port are in the reject sets, logged as refused', () => {
  const state = desiredNft([webRule(0, { nodePort: 30081 })], CLUSTER);
  assert.deepEqual([...state.elements.get('no-endpoints')!.keys()], ['10.96.0.20 . 6 . 80']);
  assert.deepEqual([...state.elements.get('no-endpoint-nodeports')!.keys()], ['6 . 30081']);
  assert.equal(state.elements.get('service-ips')!.size, 0);
  const log = 'limit rate 20/second burst 20 packets log prefix "podnet-refused" group 19';
  assert.deepEqual(state.chains.get('reject-services'), [
    `ip daddr . meta l4proto . th dport @no-endpoints ${log}`,
    'ip daddr . meta l4proto . th dport @no-endpoints reject',
    `fib daddr type local meta l4proto . th dport @no-endpoint-nodeports ${log}`,
    'fib daddr type local meta l4proto . th dport @no-endpoint-nodeports reject',
  ]);
});

test('hairpin and egress masquerade in postrouting', () => {
  const state = desiredNft([webRule(2)], CLUSTER);
  assert.deepEqual(
    [...state.elements.get('hairpin')!.keys()],
    ['10.244.1.5 . 10.244.1.5', '10.244.2.5 . 10.244.2.5'],
  );
  assert.deepEqual(state.chains.get('nat-postrouting'), [
    'meta mark & 0x4000 == 0x4000 meta mark set meta mark ^ 0x4000 masquerade fully-random',
    'ct status dnat ip saddr . ip daddr @hairpin masquerade fully-random',
    'ip daddr 10.244.0.0/16 return',
    'ip daddr 10.96.0.0/16 return',
    'ip daddr 224.0.0.0/4 return',
    'ip saddr 10.244.0.0/16 masquerade fully-random',
  ]);
});

test('ClientIP affinity: per-endpoint timeout sets checked before the random pick', () => {
  const state = desiredNft([webRule(2, { affinitySeconds: 60 })], CLUSTER);
  const target = [...state.elements.get('service-ips')!.values()][0]!;
  const svc = /goto (svc-[a-z2-7]{16})$/.exec(target)![1]!;
  const lines = state.chains.get(svc)!;
  assert.equal(lines.length, 4);
  assert.match(lines[1]!, /^ip saddr @aff-[a-z2-7]{16} goto sep-[a-z2-7]{16}$/);
  assert.match(lines[3]!, /^numgen random mod 2 vmap \{ 0 : goto sep-\S+, 1 : goto sep-\S+ \}$/);
  const sep = /goto (sep-\S+)$/.exec(lines[1]!)![1]!;
  const aff = /@(aff-\S+) /.exec(lines[1]!)![1]!;
  assert.deepEqual(state.chains.get(sep), [
    `update @${aff} { ip saddr }`,
    'meta l4proto tcp dnat ip to 10.244.1.5:8080',
  ]);
  assert.equal(state.sets.get(aff), 'type ipv4_addr; flags dynamic,timeout; timeout 60s;');
});

test('a full script replaces the table whole in one transaction, with the canary table', () => {
  const state = desiredNft(
    [webRule(2, { affinitySeconds: 60 }), webRule(1, { name: 'x/y:' })],
    CLUSTER,
  );
  const lines = fullScript(state).trim().split('\n');
  assert.deepEqual(lines.slice(0, 5), [
    'add table ip podnet',
    'delete table ip podnet',
    'add table ip podnet-canary',
    'delete table ip podnet-canary',
    'add table ip podnet',
  ]);
  assert.ok(
    lines.includes(
      'add chain ip podnet nat-prerouting { type nat hook prerouting priority -100; policy accept; }',
    ),
  );
  assert.ok(lines.some((l) => l.startsWith('add element ip podnet service-ips { ')));
  assert.deepEqual(lines.slice(-3), [
    'add table ip podnet-canary',
    'add chain ip podnet-canary canary',
    'add rule ip podnet-canary canary return',
  ]);
  // Sets are declared before the rules that use them, rules before elements.
  const firstRule = lines.findIndex((l) => l.startsWith('add rule'));
  assert.ok(
    lines.findLastIndex((l) => l.startsWith('add set') || l.startsWith('add map')) < firstRule,
  );
  assert.ok(lines.findIndex((l) => l.startsWith('add element')) > firstRule);
});

test('hairpin entries only for endpoints on this node', () => {
  const state = desiredNft([webRule(3)], { ...CLUSTER, nodePodCIDR: '10.244.2.0/24' });
  assert.deepEqual([...state.elements.get('hairpin')!.keys()], ['10.244.2.5 . 10.244.2.5']);
});

test('counts of rules and elements', () => {
  const counts = nftCounts(desiredNft([webRule(3)], CLUSTER));
  assert.equal(counts.elements, 1 + 3 + 3);
  assert.ok(counts.rules > 10);
});
