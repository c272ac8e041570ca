// Reading a small nft table back in the form it is written in, from nft's own output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chainsFromListing,
  counterPacketsFromJson,
  setsFromJson,
} from '../../src/kernel/nft-table.js';

test('nft table: concatenated elements come back quoted, protocols as numbers, ranges as a-b', () => {
  const table =
    '{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "podnet-guard"}}, {"counter": {"name": "spoofed", "packets": 0, "bytes": 0}}, {"set": {"family": "inet", "name": "pod-sources-v4", "table": "podnet-guard", "type": ["ifname", "ipv4_addr"], "handle": 4, "elem": [{"concat": ["pnabc", "10.244.1.5"]}, {"concat": ["pndef", "10.244.1.6"]}]}}, {"set": {"family": "inet", "name": "protected-ports", "table": "podnet-guard", "type": ["inet_proto", "inet_service"], "flags": ["interval"], "elem": [{"concat": ["tcp", 179]}, {"concat": ["tcp", {"range": [2379, 2380]}]}, {"concat": ["udp", 179]}]}}, {"set": {"name": "node-addresses-v4", "type": "ipv4_addr"}}, {"chain": {"name": "input"}}]}';
  assert.deepEqual(
    [...setsFromJson(table)],
    [
      ['pod-sources-v4', ['"pnabc" . 10.244.1.5', '"pndef" . 10.244.1.6']],
      ['protected-ports', ['6 . 179', '6 . 2379-2380', '17 . 179']],
      ['node-addresses-v4', []],
    ],
  );
});

test("nft table: counters by name, and each chain's rules without a base chain's hook line", () => {
  const counters =
    '{"nftables": [{"metainfo": {}}, {"counter": {"family": "inet", "name": "spoofed", "table": "podnet-guard", "handle": 1, "packets": 7, "bytes": 588}}, {"counter": {"name": "tunnel", "packets": 0, "bytes": 0}}]}';
  assert.deepEqual(
    [...counterPacketsFromJson(counters)],
    [
      ['spoofed', 7],
      ['tunnel', 0],
    ],
  );
  const listing = `table inet podnet-guard {
\tcounter spoofed {
\t\tpackets 0 bytes 0
\t}

\tset node-addresses-v4 {
\t\ttype ipv4_addr
\t}

\tchain prerouting {
\t\ttype filter hook prerouting priority raw; policy accept;
\t\tiifname { "pn-wg", "pn-vxlan" } accept
\t}

\tchain input {
\t\ttype filter hook input priority filter - 10; policy accept;
\t\tiifname "pn*" meta l4proto . th dport @protected-ports counter name "host-port" drop
\t}

\tchain empty {
\t}
}
`;
  assert.deepEqual(
    [...chainsFromListing(listing)],
    [
      ['prerouting', ['iifname { "pn-wg", "pn-vxlan" } accept']],
      [
        'input',
        ['iifname "pn*" meta l4proto . th dport @protected-ports counter name "host-port" drop'],
      ],
      ['empty', []],
    ],
  );
});
