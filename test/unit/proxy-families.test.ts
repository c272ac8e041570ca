// The proxy per address family: IPv4 renders exactly what it rendered before IPv6 existed,
// IPv6 gets a table (nft) or tables (ip6tables) of its own, and a dual-stack service becomes
// one rule per family.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { currentServicePorts, proxyNetworks } from '../../src/agent/proxy.js';
import { planEndpointSlices } from '../../src/api/endpoint-slices.js';
import type { ClusterNetwork, Service } from '../../src/api/types.js';
import { servicePortRules } from '../../src/proxy/from-services.js';
import { JUMP_RULES, desiredChains, restoreText } from '../../src/proxy/iptables-rules.js';
import type { ProxyNetwork, ServicePortRule } from '../../src/proxy/model.js';
import {
  applyFragments,
  desiredNft,
  fullScript,
  ruleFragment,
} from '../../src/proxy/nftables-rules.js';
import { createProxier } from '../../src/proxy/proxier.js';
import { FakeConntrack } from '../helpers/fake-conntrack.js';
import { FakeIptables } from '../helpers/fake-iptables.js';
import { FakeNftables } from '../helpers/fake-nftables.js';
import { dualStackWebService, webPod } from '../helpers/web-objects.js';

const NET4: ProxyNetwork = {
  clusterCIDR: '10.244.0.0/16',
  serviceCIDR: '10.96.0.0/16',
  nodePodCIDR: '10.244.1.0/24',
};
const NET6: ProxyNetwork = {
  family: 6,
  clusterCIDR: 'fd00:10:244::/56',
  serviceCIDR: 'fd00:10:96::/112',
  nodePodCIDR: 'fd00:10:244:1::/64',
};

/** Every kind of service port the renderers distinguish, with `n` endpoints made by `ep`. */
function fixture(clusterIP: (last: number) => string, ep: (i: number) => string) {
  const eps = (n: number, offset = 0) =>
    Array.from({ length: n }, (_, i) => ({ ip: ep(i + 1 + offset * 100), port: 8080 }));
  const rules: ServicePortRule[] = [
    {
      name: 'shop/web:http',
      clusterIP: clusterIP(20),
      protocol: 'TCP',
      port: 80,
      endpoints: eps(3),
    },
    {
      name: 'shop/dns:dns',
      clusterIP: clusterIP(10),
      protocol: 'UDP',
      port: 53,
      nodePort: 30053,
      endpoints: eps(2),
    },
    {
      name: 'shop/aff:',
      clusterIP: clusterIP(21),
      protocol: 'TCP',
      port: 81,
      nodePort: 30081,
      affinitySeconds: 60,
      endpoints: eps(2, 1),
    },
    {
      name: 'shop/none:',
      clusterIP: clusterIP(22),
      protocol: 'TCP',
      port: 82,
      nodePort: 30082,
      endpoints: [],
    },
    { name: 'shop/sctp:', clusterIP: clusterIP(23), protocol: 'SCTP', port: 83, endpoints: eps(1) },
  ];
  const changed = { ...rules[0]!, endpoints: eps(2) };
  return { rules, changed };
}

/** Full and partial renderings in both modes. */
function renderings(rules: ServicePortRule[], changed: ServicePortRule, net: ProxyNetwork) {
  const state = desiredNft(rules, net);
  const nftPartial = applyFragments(
    state,
    [ruleFragment(rules[0]!, net)],
    [ruleFragment(changed, net)],
  );
  const chains = desiredChains(rules, net);
  return {
    nftFull: fullScript(desiredNft(rules, net)),
    nftPartial,
    iptFull: restoreText(chains, undefined, { nat: ['PODNET-SVC-OLD'], filter: [] }, JUMP_RULES[4])
      .text,
    iptPartial: restoreText(desiredChains([changed, ...rules.slice(1)], net), chains).text,
  };
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

test('IPv4 renders byte for byte what it rendered before the proxy knew IPv6', () => {
  // The odd endpoint numbering (1, 2, 3 and 101, 102) keeps the octets of the recorded run.
  const v4 = fixture(
    (last) => `10.96.0.${last}`,
    (i) => `10.244.${i > 100 ? i - 100 : i}.${i > 100 ? 6 : 5}`,
  );
  const digests = Object.fromEntries(
    Object.entries(renderings(v4.rules, v4.changed, NET4)).map(([k, v]) => [k, sha256(v)]),
  );
  // Recorded from the IPv4-only renderers (with the endpoint-error drop), on these same rules.
  assert.deepEqual(digests, {
    nftFull: '712c31b271113d41f0974f0a5797643e5165c6b558218129b86248fedef4aa6e',
    nftPartial: 'c4df97f92452680ddab280bc46aca243fc5fda8b3a348e8ca087b7c6891fa955',
    iptFull: '04f0100dedeeac9eddc3e7abc56fdf358b5681e35ea08983d8ba40b01829af48',
    iptPartial: '57bc347b86461ce49feb9d3932a1f513b26e42a2a42e9543b51d8c334b550d8f',
  });
  // Saying IPv4 outright changes nothing either.
  const explicit = renderings(v4.rules, v4.changed, { ...NET4, family: 4 });
  assert.equal(sha256(explicit.nftFull), digests.nftFull);
  assert.equal(sha256(explicit.iptFull), digests.iptFull);
});

const v6 = fixture(
  (last) => `fd00:10:96::${last.toString(16)}`,
  (i) => `fd00:10:244:${i > 100 ? i - 100 : i}::${i > 100 ? 6 : 5}`,
);

test('IPv6 nftables: table ip6 podnet with IPv6 matches, types, NAT and multicast', () => {
  const script = renderings(v6.rules, v6.changed, NET6).nftFull;
  const lines = script.trim().split('\n');
  // Its own table and canary: the IPv4 table is never named.
  assert.ok(lines.includes('add table ip6 podnet'));
  assert.ok(lines.includes('add rule ip6 podnet-canary canary return'));
  assert.ok(!lines.some((l) => l.includes(' ip podnet')), 'no line touches the IPv4 table');
  assert.ok(!/\bip (saddr|daddr|to)\b/.test(script), 'no IPv4 match or NAT in the IPv6 table');
  const has = (line: string): void => assert.ok(lines.includes(line), line);
  has('add map ip6 podnet service-ips { type ipv6_addr . inet_proto . inet_service : verdict; }');
  has('add rule ip6 podnet services ip6 daddr . meta l4proto . th dport vmap @service-ips');
  has(
    'add rule ip6 podnet backends-tcp-n3 meta l4proto tcp dnat ip6 to ip6 daddr . tcp dport . numgen random mod 3 map @backends-tcp-n3',
  );
  has(
    'add rule ip6 podnet backends-tcp-n3 ip6 saddr != fd00:10:244::/56 meta mark set meta mark | 0x4000',
  );
  has(
    'add rule ip6 podnet nodeport-udp-n2 meta l4proto udp dnat ip6 to udp dport . numgen random mod 2 map @nodeport-backends-udp-n2',
  );
  has('add rule ip6 podnet nat-postrouting ip6 daddr ff00::/8 return');
  has('add rule ip6 podnet nat-postrouting ip6 saddr fd00:10:244::/56 masquerade fully-random');
  has('add element ip6 podnet no-endpoints { fd00:10:96::16 . 6 . 82 }');
  assert.match(script, /dnat ip6 to \[fd00:10:244:1::6\]:8080\n/);
  assert.match(
    script,
    /add element ip6 podnet backends-tcp-n3 \{ fd00:10:96::14 \. 80 \. 0 : fd00:10:244:1::5 \. 8080, /,
  );
  // A partial sync names the IPv6 table too.
  const partial = renderings(v6.rules, v6.changed, NET6).nftPartial;
  assert.ok(
    partial.split('\n').every((l) => l === '' || / ip6 podnet /.test(l)),
    partial,
  );
});

test('IPv6 iptables: /128 hosts, bracketed DNAT targets, a 128-bit affinity mask, statistic', () => {
  const text = renderings(v6.rules, v6.changed, NET6).iptFull;
  assert.ok(!/\/32\b|255\.255|224\.0\.0\.0/.test(text), 'no IPv4 prefix, mask or range');
  assert.match(text, /-A PODNET-SERVICES -d fd00:10:96::14\/128 -p tcp -m tcp --dport 80 /);
  assert.match(
    text,
    /-m statistic --mode random --probability 0\.3333333333 -j DNAT --to-destination \[fd00:10:244:1::5\]:8080/,
  );
  assert.match(text, /--mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource/);
  assert.match(text, /-A PODNET-EGRESS -d ff00::\/8 -j RETURN/);
  assert.match(text, /-d fd00:10:96::16\/128 -p tcp -m tcp --dport 82 .*-j REJECT/);
});

function dualService(extra: Partial<Service['spec']> = {}): Service {
  const svc = dualStackWebService('shop', [{ name: 'http', port: 80, nodePort: 30080 }]);
  svc.spec = { ...svc.spec, ...extra };
  return svc;
}

const endpoints = {
  ports: [
    {
      name: 'http',
      protocol: 'TCP' as const,
      endpoints: ['fd00:10:244:2::5', '10.244.2.5', 'fd00:10:244:1::5', '10.244.1.5'].map((ip) => ({
        ip,
        port: 8080,
        ready: true,
        serving: true,
        terminating: false,
      })),
    },
  ],
};

test('a dual-stack service is one rule per family: its cluster IP and endpoints of that family', () => {
  const [v4rule] = servicePortRules(dualService(), endpoints, 4);
  const [v6rule] = servicePortRules(dualService(), endpoints, 6);
  assert.equal(v4rule!.clusterIP, '10.96.0.20');
  assert.deepEqual(
    v4rule!.endpoints.map((e) => e.ip),
    ['10.244.1.5', '10.244.2.5'],
  );
  assert.equal(v6rule!.clusterIP, 'fd00:10:96::20');
  assert.deepEqual(
    v6rule!.endpoints.map((e) => e.ip),
    ['fd00:10:244:1::5', 'fd00:10:244:2::5'],
  );
  assert.equal(v6rule!.nodePort, 30080, 'the node port serves both families');
  // The default family is IPv4, as before; a single-family service has no rule in the other.
  assert.deepEqual(servicePortRules(dualService(), endpoints), [v4rule]);
  const only6 = dualService({
    clusterIP: 'fd00:10:96::21',
    clusterIPs: ['fd00:10:96::21'],
    ipFamilies: ['IPv6'],
    ipFamilyPolicy: 'SingleStack',
  });
  assert.deepEqual(servicePortRules(only6, endpoints, 4), []);
  assert.equal(servicePortRules(only6, endpoints, 6)[0]!.clusterIP, 'fd00:10:96::21');
});

test('each family reads its own EndpointSlice: IPv6 rules from the IPv6 slice', () => {
  const svc = dualStackWebService('shop', [{ name: 'http', port: 80, targetPort: 'http' }]);
  const pods = [1, 2].map((i) => {
    const p = webPod('shop', `web-${i}`, `10.244.${i}.5`, true);
    p.status!.podIPs = [{ ip: `10.244.${i}.5` }, { ip: `fd00:10:244:${i}::5` }];
    return p;
  });
  const slices = planEndpointSlices(svc, pods, []).create;
  assert.deepEqual(slices.map((s) => s.addressType).sort(), ['IPv4', 'IPv6']);
  const [v6rule] = currentServicePorts([svc], slices, 6);
  assert.equal(v6rule!.clusterIP, 'fd00:10:96::20');
  assert.deepEqual(v6rule!.endpoints, [
    { ip: 'fd00:10:244:1::5', port: 8080 },
    { ip: 'fd00:10:244:2::5', port: 8080 },
  ]);
  const [v4rule] = currentServicePorts([svc], slices);
  assert.deepEqual(
    v4rule!.endpoints.map((e) => e.ip),
    ['10.244.1.5', '10.244.2.5'],
  );
});

const clusterSpec = (extra: Partial<ClusterNetwork['spec']> = {}): ClusterNetwork['spec'] => ({
  clusterCIDR: '10.244.0.0/16',
  nodeSubnetPrefix: 24,
  serviceCIDR: '10.96.0.0/16',
  dnsIP: '10.96.0.10',
  domain: 'cluster.local',
  backend: 'host-gw',
  proxyMode: 'nftables',
  routing: 'store',
  mtu: 1500,
  ...extra,
});

test('proxy networks: one per service family, each with its own pod and node ranges', () => {
  const node = {
    apiVersion: 'v1' as const,
    kind: 'Node' as const,
    metadata: { name: 'n1' },
    spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] },
  };
  assert.deepEqual(proxyNetworks(clusterSpec(), node), [
    {
      family: 4,
      clusterCIDR: '10.244.0.0/16',
      serviceCIDR: '10.96.0.0/16',
      nodePodCIDR: '10.244.1.0/24',
    },
  ]);
  const dual = clusterSpec({
    clusterCIDRs: ['10.244.0.0/16', 'fd00:10:244::/56'],
    serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/112'],
  });
  assert.deepEqual(proxyNetworks(dual, node), [
    {
      family: 4,
      clusterCIDR: '10.244.0.0/16',
      serviceCIDR: '10.96.0.0/16',
      nodePodCIDR: '10.244.1.0/24',
    },
    {
      family: 6,
      clusterCIDR: 'fd00:10:244::/56',
      serviceCIDR: 'fd00:10:96::/112',
      nodePodCIDR: 'fd00:10:244:1::/64',
    },
  ]);
});

test('the two families program tables side by side: a flush of one is noticed by its proxier only', async () => {
  const nft = new FakeNftables();
  const kernel = { nftables: nft, iptables: new FakeIptables(), conntrack: new FakeConntrack() };
  const p4 = createProxier('nftables', NET4, kernel);
  const p6 = createProxier('nftables', NET6, kernel);
  await p4.sync([{ ...v6.changed, clusterIP: '10.96.0.20', endpoints: [] }], true);
  await p6.sync(v6.rules, true);
  assert.deepEqual([...nft.tables.keys()].sort(), [
    'ip podnet',
    'ip podnet-canary',
    'ip6 podnet',
    'ip6 podnet-canary',
  ]);
  // A partial IPv6 sync touches only the IPv6 table.
  const before = nft.script('ip podnet');
  await p6.sync([v6.changed, ...v6.rules.slice(1)], false);
  assert.equal(nft.script('ip podnet'), before);
  assert.ok(await p4.intact());
  assert.ok(await p6.intact());
  nft.tables.delete('ip6 podnet-canary');
  assert.ok(await p4.intact());
  assert.equal(await p6.intact(), false);
});
