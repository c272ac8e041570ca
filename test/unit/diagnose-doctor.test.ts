import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnoseHost, type DoctorInput } from '../../src/diagnose/doctor.js';
import { DEFAULT_CLUSTER_NETWORK, type Node } from '../../src/api/types.js';
import type { HostFacts } from '../../src/kernel/host-facts.js';

function node(name: string, podCIDR: string, mac: string): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations: { 'podnet.io/vtep-mac': mac } },
    spec: { podCIDR },
  };
}

function healthy(): DoctorInput {
  const host: HostFacts = {
    sysctls: {
      'net.ipv4.ip_forward': '1',
      'net.ipv4.conf.all.rp_filter': '0',
      'net.ipv4.conf.pn-vxlan.rp_filter': '2',
      'net.netfilter.nf_conntrack_count': '10',
      'net.netfilter.nf_conntrack_max': '1000',
      'net.bridge.bridge-nf-call-iptables': '1',
      'net.ipv4.neigh.default.gc_thresh1': '128',
      'net.ipv4.neigh.default.gc_thresh2': '512',
      'net.ipv4.neigh.default.gc_thresh3': '1024',
    },
    forwardPolicy: 'ACCEPT',
    forwardRules: [],
    links: [
      { ifname: 'lo', mtu: 65536 },
      { ifname: 'eth0', mtu: 1500, address: '02:00:00:00:00:01' },
      {
        ifname: 'pn-vxlan',
        mtu: 1450,
        address: 'aa:bb:cc:00:00:01',
        kind: 'vxlan',
        vxlan: { id: 1, port: 8472, link: 'eth0' },
      },
      { ifname: 'pn0123456789a', mtu: 1450, kind: 'veth' },
    ],
    podnetRoutes: [
      { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'pn-vxlan', flags: ['onlink'] },
      { dst: '10.244.1.5', dev: 'pn0123456789a' },
    ],
  };
  return {
    host,
    nodeName: 'node-1',
    nodes: [
      node('node-1', '10.244.1.0/24', 'aa:bb:cc:00:00:01'),
      node('node-2', '10.244.2.0/24', 'aa:bb:cc:00:00:02'),
    ],
    network: { ...DEFAULT_CLUSTER_NETWORK },
    kernelConfig: new Map([
      ['CONFIG_VXLAN', 'y'],
      ['CONFIG_NETFILTER_XT_MATCH_STATISTIC', 'y'],
      ['CONFIG_NETFILTER_XT_MATCH_RECENT', 'y'],
    ]),
  };
}

function failing(input: DoctorInput): string[] {
  return diagnoseHost(input)
    .filter((v) => !v.ok)
    .map((v) => v.check);
}

test('doctor: a healthy host passes every check', () => {
  const verdicts = diagnoseHost(healthy());
  assert.deepEqual(
    verdicts.filter((v) => !v.ok),
    [],
  );
  assert.ok(verdicts.length >= 9);
});

const broken: [string, string, (i: DoctorInput) => void, RegExp][] = [
  [
    'ip_forward off',
    'ip_forward',
    (i) => (i.host.sysctls['net.ipv4.ip_forward'] = '0'),
    /ip_forward=1/,
  ],
  [
    'strict rp_filter on the tunnel',
    'rp_filter',
    (i) => (i.host.sysctls['net.ipv4.conf.pn-vxlan.rp_filter'] = '1'),
    /pn-vxlan\.rp_filter=2/,
  ],
  [
    // The agent loosens the underlay and the tunnel; eth0 has no value of its own here.
    'strict rp_filter on all, for a device the agent loosens',
    'rp_filter',
    (i) => {
      i.host.sysctls['net.ipv4.conf.all.rp_filter'] = '1';
      i.routing = { changes: [], looseRpFilter: ['eth0', 'pn-vxlan'], periodSeconds: 10 };
    },
    /^sysctl -w net\.ipv4\.conf\.eth0\.rp_filter=2$/,
  ],
  [
    'FORWARD policy DROP',
    'forward-policy',
    (i) => (i.host.forwardPolicy = 'DROP'),
    /-s 10\.244\.0\.0\/16 -j ACCEPT/,
  ],
  [
    'bridges skip iptables',
    'bridge-nf-call',
    (i) => {
      i.host.sysctls['net.bridge.bridge-nf-call-iptables'] = '0';
      i.host.links.push({ ifname: 'br0', mtu: 1500, kind: 'bridge' });
    },
    /bridge-nf-call-iptables=1/,
  ],
  ['tunnel MTU too big', 'mtu-tunnel', (i) => (i.host.links[2]!.mtu = 1500), /mtu 1450/],
  ['pod MTU too big', 'mtu-pods', (i) => (i.host.links[3]!.mtu = 1500), /pn0123456789a mtu 1450/],
  [
    'VTEP MAC changed',
    'vtep-mac',
    (i) => (i.host.links[2]!.address = 'aa:bb:cc:00:00:99'),
    /address aa:bb:cc:00:00:01/,
  ],
  [
    'duplicate VTEP MACs',
    'vtep-mac',
    (i) => (i.nodes[1]!.metadata.annotations!['podnet.io/vtep-mac'] = 'aa:bb:cc:00:00:01'),
    /delete node/,
  ],
  [
    'stale route',
    'stale-routes',
    (i) => i.host.podnetRoutes.push({ dst: '10.244.9.0/24', dev: 'pn-vxlan' }),
    /ip route del 10\.244\.9\.0\/24 proto 80/,
  ],
  [
    'conntrack nearly full',
    'conntrack',
    (i) => (i.host.sysctls['net.netfilter.nf_conntrack_count'] = '950'),
    /nf_conntrack_max=2000/,
  ],
  [
    'a route routing wants is missing',
    'kernel-state',
    (i) =>
      (i.routing = {
        changes: [
          {
            op: 'route-add',
            route: { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'pn-vxlan', onlink: true },
          },
        ],
        looseRpFilter: ['eth0', 'pn-vxlan'],
        periodSeconds: 10,
      }),
    /^ip route add 10\.244\.2\.0\/24 via 10\.244\.2\.0 dev pn-vxlan onlink proto 80$/,
  ],
  [
    'what routing wants unknown, with the reason and what to look at',
    'kernel-state',
    (i) =>
      (i.routing = {
        error: 'its agent has handed no BGP routes to routing yet',
        fix: 'podnet get bgp -o wide',
      }),
    /^podnet get bgp -o wide$/,
  ],
  [
    'a peer the backend cannot reach',
    'peers',
    (i) => {
      i.network.backend = 'host-gw';
      i.nodes[0]!.status = {
        conditions: [
          {
            type: 'NetworkUnavailable',
            status: 'True',
            reason: 'PeersUnreachable',
            message: 'cannot route to node-2 (172.31.2.2 is not on-link)',
          },
        ],
      };
    },
    /backend: host-gw\/backend: auto/,
  ],
  [
    'pods larger than the underlay lets through',
    'mtu-pods',
    (i) => {
      i.network.backend = 'host-gw';
      i.host.links = i.host.links.filter((l) => l.ifname !== 'pn-vxlan');
      i.host.links[1]!.addresses = ['172.31.1.1/24'];
      i.host.links[1]!.mtu = 1400;
      i.nodes[0]!.status = { addresses: [{ type: 'InternalIP', address: '172.31.1.1' }] };
    },
    /pn0123456789a mtu 1400/,
  ],
];

for (const [what, check, breakIt, fix] of broken) {
  test(`doctor: finds ${what} and says how to fix it`, () => {
    const input = healthy();
    breakIt(input);
    assert.deepEqual(failing(input), [check]);
    const verdict = diagnoseHost(input).find((v) => !v.ok)!;
    assert.match(verdict.fix ?? '', fix);
  });
}

test('doctor: with routing bgp, sessions not Established, or not published, fail with their peer', () => {
  const now = new Date('2026-11-26T12:00:00Z');
  const peer = (address: string, state: 'Established' | 'Active', lastError?: string) => ({
    address,
    asNumber: 64512,
    kind: 'ibgp' as const,
    rrClient: false,
    state,
    prefixesReceived: state === 'Established' ? 1 : 0,
    prefixesAdvertised: 1,
    prefixesRejected: 0,
    stalePrefixes: 0,
    messagesIn: 5,
    messagesOut: 5,
    ...(lastError ? { lastError } : {}),
  });
  const input = (peers: ReturnType<typeof peer>[], updatedAt = '2026-11-26T11:59:58Z') => ({
    ...healthy(),
    network: { ...DEFAULT_CLUSTER_NETWORK, routing: 'bgp' as const },
    bgp: { node: 'node-1', updatedAt, peers },
    now,
  });
  const verdict = (i: DoctorInput) => diagnoseHost(i).find((v) => v.check === 'bgp-sessions');
  // Store routing: no BGP verdict at all.
  assert.equal(verdict(healthy()), undefined);
  assert.deepEqual(verdict(input([peer('172.31.1.3', 'Established')])), {
    check: 'bgp-sessions',
    ok: true,
    detail: '1 session(s) Established, 1 prefix(es) received',
  });
  const down = verdict(
    input([peer('172.31.1.3', 'Established'), peer('172.31.2.2', 'Active', 'hold timer expired')]),
  )!;
  assert.equal(down.ok, false);
  assert.equal(down.detail, 'not Established: 172.31.2.2 AS 64512 (Active: hold timer expired)');
  assert.match(down.fix!, /TCP 179 reaches 172\.31\.2\.2/);
  assert.match(
    verdict(input([], '2026-11-26T11:50:00Z'))!.detail,
    /last published its sessions 600 s ago/,
  );
  assert.equal(verdict({ ...input([]), bgp: undefined })!.ok, false);
});

test('doctor: with routing bgp, a node whose subnet has no BGP route is named', () => {
  const input = { ...healthy(), network: { ...DEFAULT_CLUSTER_NETWORK, routing: 'bgp' as const } };
  const check = (i: DoctorInput) => diagnoseHost(i).find((v) => v.check === 'bgp-routes')!;
  assert.equal(check(input).ok, true);
  input.host.podnetRoutes = input.host.podnetRoutes.filter((r) => r.dst !== '10.244.2.0/24');
  assert.equal(check(input).detail, "no BGP route to node-2's 10.244.2.0/24");
});

test('doctor: a dead agent is named, and kernel state it would repair says nobody will', async () => {
  const { nodeLease } = await import('../../src/agent/node-lease.js');
  const input = healthy();
  const now = new Date('2026-01-01T00:01:00Z');
  input.now = now;
  input.restartAgent = 'podnet lab repair --name lab1';
  input.leases = [nodeLease('node-1', 40, now), nodeLease('node-2', 40, now)];
  assert.deepEqual(failing(input), []);
  assert.equal(diagnoseHost(input)[0]!.detail, "every node's agent is posting status");
  // node-1's agent silent for 50 s: nobody has marked it yet (every agent is gone).
  input.leases[0] = nodeLease('node-1', 40, new Date('2026-01-01T00:00:10Z'));
  input.routing = {
    changes: [
      {
        op: 'route-add',
        route: { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'pn-vxlan', onlink: false },
      },
    ],
    looseRpFilter: [],
    periodSeconds: 10,
  };
  const verdicts = diagnoseHost(input).filter((v) => !v.ok);
  assert.deepEqual(
    verdicts.map((v) => [v.check, v.detail, v.fix]),
    [
      [
        'agents',
        "the agent on node-1 stopped posting status (last heartbeat 50 s ago): its routes, rules and pods' network are not kept in step until it is restarted",
        'podnet lab repair --name lab1',
      ],
      [
        'kernel-state',
        'missing route 10.244.2.0/24 via 10.244.2.0 dev pn-vxlan: the agent on node-1 stopped posting status (last heartbeat 50 s ago): nobody repairs this until it is restarted (podnet lab repair --name lab1)',
        'ip route add 10.244.2.0/24 via 10.244.2.0 dev pn-vxlan proto 80',
      ],
    ],
  );
  // A node a peer marked Unknown counts as dead whatever its Lease says.
  input.leases[0] = nodeLease('node-1', 40, now);
  input.nodes[1]!.status = {
    conditions: [
      { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'agent stopped' },
    ],
  };
  assert.match(
    diagnoseHost(input).find((v) => v.check === 'agents' && !v.ok)!.detail,
    /^the agent on node-2 stopped posting status \(last heartbeat 0 s ago\)/,
  );
});

test('doctor: backend cloud names a full route table and a source/destination check left on', () => {
  const input = healthy();
  input.network = {
    ...input.network,
    backend: 'cloud',
    cloud: { provider: 'aws', routeTableIDs: ['rtb-1'], region: 'us-east-1' },
  };
  const self = input.nodes[0]!;
  self.metadata.annotations = {
    ...self.metadata.annotations,
    'podnet.io/cloud-interface': 'eni-1',
    'podnet.io/cloud-source-dest-check': 'on',
    'podnet.io/cloud-route': 'refused',
  };
  self.status = {
    conditions: [
      {
        type: 'NetworkUnavailable',
        status: 'True',
        reason: 'NoRouteCreated',
        message: 'no cloud route for 10.244.1.0/24: route table rtb-1 is full: 3 of 3 routes',
      },
    ],
  };
  const verdicts = diagnoseHost(input).filter((v) => v.check.startsWith('cloud-'));
  assert.deepEqual(
    verdicts.map((v) => [v.check, v.ok, v.detail]),
    [
      [
        'cloud-source-dest-check',
        false,
        "eni-1 has its source/destination check on: the VPC drops every packet to or from this node's pods",
      ],
      [
        'cloud-route',
        false,
        'no cloud route for 10.244.1.0/24: route table rtb-1 is full: 3 of 3 routes',
      ],
    ],
  );
  assert.match(verdicts[0]!.fix!, /--no-source-dest-check/);
});

test('doctor: backend ipip on a kernel without CONFIG_NET_IPIP says the tc BPF programs carry it', () => {
  const input = healthy();
  input.network.backend = 'ipip';
  const verdicts = diagnoseHost(input).filter((v) => v.check === 'kernel-features');
  assert.ok(verdicts.every((v) => v.ok));
  assert.match(verdicts.map((v) => v.detail).join('\n'), /ipip runs as tc BPF programs/);
});

/** The healthy host among `peers` other nodes, one subnet each. */
function withPeers(peers: number): DoctorInput {
  const input = healthy();
  for (let i = 3; i < peers + 2; i++)
    input.nodes.push(
      node(`node-${i}`, `10.${100 + (i >> 8)}.${i & 255}.0/24`, 'aa:bb:cc:00:01:00'),
    );
  return input;
}

const neighbourVerdict = (input: DoctorInput) =>
  diagnoseHost(input).find((v) => v.check === 'neighbour-table-ipv4')!;

test('doctor: peers against the neighbour table warn from half the soft limit, with thresholds to set', () => {
  const calm = neighbourVerdict(withPeers(256));
  assert.equal(calm.ok, true);
  assert.match(
    calm.detail,
    /256 peers against the IPv4 neighbour table's gc_thresh1\/2\/3 128\/512\/1024/,
  );

  const close = neighbourVerdict(withPeers(300));
  assert.equal(close.ok, false);
  assert.match(close.detail, /300 peers .* close to the soft limit/);
  assert.equal(
    close.fix,
    'sysctl -w net.ipv4.neigh.default.gc_thresh1=256 net.ipv4.neigh.default.gc_thresh2=1024 net.ipv4.neigh.default.gc_thresh3=2048',
  );

  assert.match(neighbourVerdict(withPeers(600)).detail, /past the soft limit/);
  const over = neighbourVerdict(withPeers(5000));
  assert.match(over.detail, /5000 peers .* past the hard limit/);
  assert.match(over.fix!, /gc_thresh3=32768$/);
});

test('doctor: the neighbour check counts only peers of its family, and says nothing without thresholds', () => {
  const input = withPeers(600);
  input.host.sysctls['net.ipv6.neigh.default.gc_thresh1'] = '128';
  input.host.sysctls['net.ipv6.neigh.default.gc_thresh2'] = '512';
  input.host.sysctls['net.ipv6.neigh.default.gc_thresh3'] = '1024';
  input.nodes[1]!.spec.podCIDRs = ['10.244.2.0/24', 'fd00:10:244:2::/64'];
  const v6 = diagnoseHost(input).find((v) => v.check === 'neighbour-table-ipv6')!;
  assert.equal(v6.ok, true);
  assert.match(v6.detail, /^1 peers/);

  delete input.host.sysctls['net.ipv4.neigh.default.gc_thresh3'];
  assert.equal(neighbourVerdict(input), undefined);
});

test('doctor: datapath kernel with the eBPF programs still on passes while they drain connections, fails once none is left', () => {
  const input = healthy();
  input.datapathDevices = { pod: ['pn0123456789a'], underlay: ['eth0'] };
  input.datapathTranslationsOpen = 4;
  const draining = diagnoseHost(input).find((v) => v.check === 'ebpf-datapath')!;
  assert.equal(draining.ok, true);
  assert.match(draining.detail, /draining: .* on 2 device\(s\) for 2 service connection\(s\)/);
  input.datapathTranslationsOpen = 0;
  assert.deepEqual(failing(input), ['ebpf-datapath']);
});
