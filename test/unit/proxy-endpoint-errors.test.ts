// Port unreachable from the endpoint of a DNAT'd UDP flow (a DNS pod whose server died) is
// dropped on the client's host, on the way to a pod (forward) or to the host itself (input):
// the client's resolver then times out and asks again instead of failing the lookup.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  desiredChains,
  ENDPOINT_ERRORS_CHAIN,
  endpointUnreachableDrop,
  JUMP_RULES,
} from '../../src/proxy/iptables-rules.js';
import {
  BASE_CHAINS,
  desiredNft,
  endpointUnreachableDrop as nftEndpointUnreachableDrop,
} from '../../src/proxy/nftables-rules.js';
import { CLUSTER } from '../helpers/proxy-topology.js';
import { webRule } from '../helpers/proxy-rules.js';

test('iptables: ICMP in INPUT and FORWARD meets the drop of port unreachable for DNAT’d UDP', () => {
  const jumps = JUMP_RULES[4].filter((j) => j.target === ENDPOINT_ERRORS_CHAIN);
  assert.deepEqual(jumps.map((j) => `${j.table} ${j.chain}`).sort(), [
    'filter FORWARD',
    'filter INPUT',
  ]);
  for (const j of jumps) assert.match(j.spec, /^-p icmp .*-j PODNET-ENDPOINT-ERRORS$/);
  // With or without services: it is there before the first endpoint can die.
  for (const rules of [[], [webRule(3)]]) {
    const { filter } = desiredChains(rules, CLUSTER);
    assert.deepEqual(filter.get(ENDPOINT_ERRORS_CHAIN), [endpointUnreachableDrop(4)]);
  }
  assert.match(
    endpointUnreachableDrop(4),
    /^-p icmp -m icmp --icmp-type 3\/3 -m conntrack --ctstate DNAT --ctproto 17 .*-j DROP$/,
  );
  // IPv6: ICMPv6 destination unreachable (1), port unreachable (4), as ip6tables-save prints it.
  for (const j of JUMP_RULES[6].filter((j) => j.target === ENDPOINT_ERRORS_CHAIN)) {
    assert.match(j.spec, /^-p ipv6-icmp .*-j PODNET-ENDPOINT-ERRORS$/);
  }
  assert.match(
    endpointUnreachableDrop(6),
    /^-p ipv6-icmp -m icmp6 --icmpv6-type 1\/4 -m conntrack --ctstate DNAT --ctproto 17 .*-j DROP$/,
  );
});

test('nftables: input and forward drop port unreachable for DNAT’d UDP flows', () => {
  const state = desiredNft([webRule(3)], CLUSTER);
  for (const [chain, hook] of [
    ['filter-input', 'input'],
    ['filter-forward', 'forward'],
  ] as const) {
    assert.match(BASE_CHAINS[chain]!, new RegExp(`^type filter hook ${hook} `));
    assert.deepEqual(state.chains.get(chain), [nftEndpointUnreachableDrop(4)]);
  }
  assert.equal(
    nftEndpointUnreachableDrop(4),
    'icmp type destination-unreachable icmp code port-unreachable ct status dnat ct protocol udp drop',
  );
  assert.equal(
    nftEndpointUnreachableDrop(6),
    'icmpv6 type destination-unreachable icmpv6 code port-unreachable ct status dnat ct protocol udp drop',
  );
});
