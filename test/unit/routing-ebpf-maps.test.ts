// The eBPF data path's desired maps, entry by entry in the C structs' layout, and the two pure
// choices beside them: which pods a policy holds (kept on the kernel path) and when peers are
// redirected to directly (host-gw only in this first landing).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { endianness } from 'node:os';
import { hostMacFor } from '../../src/kernel/pod-veth.js';
import type { NetworkPolicy, Pod } from '../../src/api/types.js';
import { policySelectedAddresses } from '../../src/policy/selected.js';
import {
  datapathPeersDirect,
  desiredDatapathMaps,
  openTranslations,
  sliceBackends,
  TRANSLATION_CLOSING_NS,
  TRANSLATION_IDLE_NS,
  TRANSLATION_UDP_IDLE_NS,
} from '../../src/routing/ebpf-maps.js';

/** A u32 as this machine lays it out, in bpftool's hex. */
const u32 = (n: number): string => {
  const b = Buffer.alloc(4);
  if (endianness() === 'LE') b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
};

const input = {
  pods: [
    { hostVeth: 'pn0123456789a', ip: '10.244.1.5' },
    { hostVeth: 'pn0123456789a', ip: 'fd00:10:244:1::5' },
    { hostVeth: 'pngone00000000', ip: '10.244.1.9' },
  ],
  ifindexes: new Map([
    ['pn0123456789a', 7],
    ['eth0', 2],
  ]),
  underlay: 'eth0',
  underlaySubnet: '172.31.1.1/24',
  peers: [
    { podCIDR: '10.244.3.0/24', ip: '172.31.2.3' },
    { podCIDR: '10.244.2.0/24', ip: '172.31.1.2' },
    { podCIDR: 'fd00:10:244:2::/64', ip: 'fd00::2' },
  ],
  policyPods: ['10.244.2.9', 'fd00:10:244:2::9'],
  backends: [
    { ip: '10.244.2.8', port: 8080, protocol: 'TCP' },
    { ip: '10.244.2.8', port: 53, protocol: 'UDP' },
  ],
};

test('ebpf maps: a wired IPv4 pod, its veth source, on-link host-gw peers, policy pods and backends', () => {
  const maps = desiredDatapathMaps(input);
  // IPv6 stays on the kernel path; a veth that is not there has no entry.
  assert.deepEqual(
    [...maps.pods],
    [['0a f4 01 05', `${u32(7)} 0a 58 0a f4 01 05 02 ${hostMac('pn0123456789a')}`]],
  );
  assert.deepEqual([...maps.sources], [[u32(7), '0a f4 01 05']]);
  assert.deepEqual([...maps.routes], [[`${u32(24)} 0a f4 02 00`, `${u32(2)} ac 1f 01 02`]]);
  assert.deepEqual([...maps.policy.keys()], ['0a f4 02 09']);
  assert.deepEqual(
    [...maps.backends.keys()],
    ['0a f4 02 08 1f 90 06 00', '0a f4 02 08 00 35 11 00'],
  );
});

test('ebpf maps: a TCP or UDP service port to an IPv4 ClusterIP gets its count and a slot per endpoint; the rest stay with the kernel', () => {
  const endpoints = [
    { ip: '10.244.1.5', port: 8080 },
    { ip: '10.244.2.6', port: 8080 },
  ];
  const maps = desiredDatapathMaps({
    ...input,
    services: [
      { clusterIP: '10.96.0.20', protocol: 'TCP', port: 80, endpoints },
      { clusterIP: '10.96.0.10', protocol: 'UDP', port: 53, endpoints: endpoints.slice(1) },
      // The kernel's: SCTP, ClientIP affinity, no endpoint, IPv6.
      { clusterIP: '10.96.0.23', protocol: 'SCTP', port: 80, endpoints },
      { clusterIP: '10.96.0.21', protocol: 'TCP', port: 80, affinitySeconds: 10800, endpoints },
      { clusterIP: '10.96.0.22', protocol: 'TCP', port: 80, endpoints: [] },
      { clusterIP: 'fd00:10:96::20', protocol: 'TCP', port: 80, endpoints },
    ],
  });
  const service = '0a 60 00 14 00 50 06 00'; // 10.96.0.20, port 80 (network order), TCP, pad
  const dns = '0a 60 00 0a 00 35 11 00'; // 10.96.0.10, port 53, UDP, pad
  assert.deepEqual(
    [...maps.services],
    [
      [service, u32(2)],
      [dns, u32(1)],
    ],
  );
  assert.deepEqual(
    [...maps.serviceBackends],
    [
      [`${service} ${u32(0)}`, '0a f4 01 05 1f 90 00 00'],
      [`${service} ${u32(1)}`, '0a f4 02 06 1f 90 00 00'],
      [`${dns} ${u32(0)}`, '0a f4 02 06 1f 90 00 00'],
    ],
  );
  assert.equal(desiredDatapathMaps(input).services.size, 0, 'no services given, none');
});

test('ebpf maps: the mode slot says full by default and drain after a switch to kernel', () => {
  assert.deepEqual([...desiredDatapathMaps(input).config], [[u32(0), u32(0)]]);
  assert.deepEqual([...desiredDatapathMaps({ ...input, mode: 'full' }).config], [[u32(0), u32(0)]]);
  assert.deepEqual(
    [...desiredDatapathMaps({ ...input, mode: 'drain' }).config],
    [[u32(0), u32(1)]],
  );
});

/** A pn_dp_nat value (struct nat_entry): 10.244.2.6:8080, closing or not, last seen at `seen`. */
const natEntry = (seen: bigint, closing = false): string => {
  const b = Buffer.alloc(16);
  b.set([10, 244, 2, 6, 0x1f, 0x90, closing ? 1 : 0, 0]);
  if (endianness() === 'LE') b.writeBigUInt64LE(seen, 8);
  else b.writeBigUInt64BE(seen, 8);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
};

test('ebpf maps: a translation is open until idle past its limit, a closing one sooner', () => {
  const now = 10n * TRANSLATION_IDLE_NS;
  const at = (ago: bigint, closing = false) => new Map([['k', natEntry(now - ago, closing)]]);
  assert.equal(openTranslations(new Map(), now), 0, 'none: the drain is over');
  assert.equal(openTranslations(at(1n), now), 1, 'a packet just now');
  assert.equal(openTranslations(at(TRANSLATION_IDLE_NS - 1n), now), 1, 'idle, not for long');
  assert.equal(openTranslations(at(TRANSLATION_IDLE_NS), now), 0, 'idle too long');
  assert.equal(openTranslations(at(1n, true), now), 1, 'a FIN just now: its last ACK may follow');
  assert.equal(openTranslations(at(TRANSLATION_CLOSING_NS, true), now), 0, 'closed');
  const both = new Map([
    ['forward', natEntry(now - 1n)],
    ['reply', natEntry(now - TRANSLATION_CLOSING_NS, true)],
  ]);
  assert.equal(openTranslations(both, now), 1, 'counted per direction');
  const udpKey = '0a f4 01 05 0a 60 00 0a d4 31 00 35 11 00 00 00';
  const udp = (ago: bigint) => new Map([[udpKey, natEntry(now - ago)]]);
  assert.equal(openTranslations(udp(TRANSLATION_UDP_IDLE_NS - 1n), now), 1, 'a UDP flow, quiet');
  assert.equal(openTranslations(udp(TRANSLATION_UDP_IDLE_NS), now), 0, 'a UDP flow, over');
});

test('ebpf maps: without an underlay device, no peer is redirected to', () => {
  assert.equal(desiredDatapathMaps({ ...input, underlay: undefined }).routes.size, 0);
});

test('ebpf maps: peers are redirected to directly under host-gw alone, without encryption', () => {
  assert.equal(datapathPeersDirect({ datapath: 'ebpf', backend: 'host-gw' }), true);
  assert.equal(datapathPeersDirect({ datapath: 'kernel', backend: 'host-gw' }), false);
  assert.equal(datapathPeersDirect({ datapath: 'ebpf', backend: 'vxlan' }), false);
  assert.equal(
    datapathPeersDirect({ datapath: 'ebpf', backend: 'host-gw', encryption: 'wireguard' }),
    false,
  );
});

test('ebpf maps: every IPv4 endpoint of a slice with each of its ports', () => {
  const backends = sliceBackends([
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-1', namespace: 'default' },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.244.1.5'] }, { addresses: ['10.244.2.6'] }],
      ports: [{ port: 8080, protocol: 'TCP' }, { port: 9090 }],
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-2', namespace: 'default' },
      addressType: 'IPv6',
      endpoints: [{ addresses: ['fd00::5'] }],
      ports: [{ port: 8080 }],
    },
  ]);
  assert.deepEqual(
    backends.map((b) => `${b.ip}:${b.port}/${b.protocol}`),
    ['10.244.1.5:8080/TCP', '10.244.1.5:9090/TCP', '10.244.2.6:8080/TCP', '10.244.2.6:9090/TCP'],
  );
});

const pod = (name: string, namespace: string, labels: Record<string, string>, ip: string): Pod =>
  ({
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name, namespace, labels },
    spec: { containers: [] },
    status: { podIP: ip, podIPs: [{ ip }] },
  }) as unknown as Pod;

test('policy selection: pods a NetworkPolicy selects in its namespace, or an admin subject holds', () => {
  const pods = [
    pod('db', 'shop', { app: 'db' }, '10.244.1.5'),
    pod('web', 'shop', { app: 'web' }, '10.244.1.6'),
    pod('db', 'other', { app: 'db' }, '10.244.2.5'),
    pod('tool', 'ops', {}, '10.244.2.6'),
  ];
  const deny = {
    kind: 'NetworkPolicy',
    metadata: { name: 'db', namespace: 'shop' },
    spec: { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'] },
  } as unknown as NetworkPolicy;
  assert.deepEqual(
    policySelectedAddresses({ pods, namespaces: [], networkPolicies: [deny], adminPolicies: [] }),
    ['10.244.1.5'],
  );
  const admin = {
    kind: 'AdminNetworkPolicy',
    metadata: { name: 'ops' },
    spec: {
      priority: 10,
      subject: { namespaces: { matchLabels: { 'kubernetes.io/metadata.name': 'ops' } } },
    },
  };
  assert.deepEqual(
    policySelectedAddresses({
      pods,
      namespaces: [],
      networkPolicies: [deny],
      adminPolicies: [admin as never],
    }),
    ['10.244.1.5', '10.244.2.6'],
  );
});

function hostMac(veth: string): string {
  // The rest of the host side's MAC after its 02: prefix, as pod-veth derives it.
  return hostMacFor(veth).split(':').slice(1).join(' ');
}
