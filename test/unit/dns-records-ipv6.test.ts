import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from 'dns-packet';
import type { KubeObject, Pod } from '../../src/api/types.js';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import { answerQuestion, reverseZonesFor, type ZoneConfig } from '../../src/dns/records.js';
import { namespace, pod, service, withSlices } from '../helpers/dns-fixtures.js';

const zone: ZoneConfig = {
  domain: 'cluster.local',
  reverseZones: reverseZonesFor([
    '10.96.0.0/16',
    'fd00:10:96::/112',
    '10.244.0.0/16',
    'fd00:10:244::/56',
  ]),
  ttl: 5,
};

/** A pod with an address of each family, as a dual-stack CNI ADD leaves it. */
function dualPod(name: string, v4: string, v6: string, extra = {}): Pod {
  const p = pod('ns', name, v4, { app: 'web' }, extra);
  p.status!.podIPs = [{ ip: v4 }, { ip: v6 }];
  return p;
}

function objects(): KubeObject[] {
  return withSlices([
    namespace('ns'),
    service('ns', 'web', {
      type: 'ClusterIP',
      clusterIP: '10.96.0.20',
      clusterIPs: ['10.96.0.20', 'fd00:10:96::20'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      selector: { app: 'web' },
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'web' }],
    }),
    service('ns', 'only6', {
      type: 'ClusterIP',
      clusterIP: 'fd00:10:96::21',
      clusterIPs: ['fd00:10:96::21'],
      ipFamilies: ['IPv6'],
      selector: { app: 'none' },
      ports: [{ protocol: 'TCP', port: 80 }],
    }),
    service('ns', 'db', {
      type: 'ClusterIP',
      clusterIP: 'None',
      clusterIPs: ['None'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
      selector: { app: 'web' },
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 'web' }],
    }),
    dualPod('db-0', '10.244.1.10', 'fd00:10:244:1::a', { hostname: 'db-0', subdomain: 'db' }),
    dualPod('web-1', '10.244.2.7', 'fd00:10:244:2::7'),
  ]);
}

function ask(index: ClusterIndex, name: string, type: string): string[] {
  const r = answerQuestion({ name, type, class: 'IN' }, index, zone);
  assert.equal(r.kind, 'answer');
  if (r.kind !== 'answer') return [];
  return [
    r.rcode,
    ...r.answers.map((a: Answer) => `${a.type} ${'data' in a ? String(a.data) : ''}`),
  ];
}

/** The ip6.arpa name of hex groups written out in full (RFC 3596): one label per nibble. */
function ip6arpa(...groups: string[]): string {
  return `${[...groups.join('')].reverse().join('.')}.ip6.arpa`;
}

const Z = '0000';

const index = new ClusterIndex('cluster.local');
index.replaceAll(objects());
const S = 'ns.svc.cluster.local';

test('dns ipv6: a dual-stack service answers A with its IPv4 and AAAA with its IPv6 cluster IP', () => {
  assert.deepEqual(ask(index, `web.${S}`, 'A'), ['NOERROR', 'A 10.96.0.20']);
  assert.deepEqual(ask(index, `web.${S}`, 'AAAA'), ['NOERROR', 'AAAA fd00:10:96::20']);
  assert.deepEqual(ask(index, `only6.${S}`, 'AAAA'), ['NOERROR', 'AAAA fd00:10:96::21']);
  assert.deepEqual(ask(index, `only6.${S}`, 'A'), ['NOERROR']);
});

test('dns ipv6: a headless service answers AAAA per ready endpoint, by hostname and dashed IP', () => {
  assert.deepEqual(ask(index, `db.${S}`, 'AAAA'), [
    'NOERROR',
    'AAAA fd00:10:244:1::a',
    'AAAA fd00:10:244:2::7',
  ]);
  assert.deepEqual(ask(index, `db-0.db.${S}`, 'AAAA'), ['NOERROR', 'AAAA fd00:10:244:1::a']);
  assert.deepEqual(ask(index, `fd00-10-244-2--7.db.${S}`, 'AAAA'), [
    'NOERROR',
    'AAAA fd00:10:244:2::7',
  ]);
});

test('dns ipv6: pod names have an IPv6 form with dashes for colons', () => {
  const pods = 'ns.pod.cluster.local';
  assert.deepEqual(ask(index, `2001-db8--1.${pods}`, 'AAAA'), ['NOERROR', 'AAAA 2001:db8::1']);
  assert.deepEqual(ask(index, `fd00-10-244-1--a.${pods}`, 'AAAA'), [
    'NOERROR',
    'AAAA fd00:10:244:1::a',
  ]);
  assert.deepEqual(ask(index, `2001-db8--1.${pods}`, 'A'), ['NOERROR']);
  assert.deepEqual(ask(index, `2001-db8--1-2-3-4-5-6-7.${pods}`, 'AAAA'), ['NXDOMAIN']);
  assert.deepEqual(ask(index, `10-244-1-5.${pods}`, 'A'), ['NOERROR', 'A 10.244.1.5']);
});

test('dns ipv6: ip6.arpa PTRs name the service and the headless endpoints', () => {
  const svc = ip6arpa('fd00', '0010', '0096', Z, Z, Z, Z, '0020');
  assert.deepEqual(ask(index, svc, 'PTR'), ['NOERROR', `PTR web.${S}`]);
  const ep = ip6arpa('fd00', '0010', '0244', '0001', Z, Z, Z, '000a');
  assert.deepEqual(ask(index, ep, 'PTR'), ['NOERROR', `PTR db-0.db.${S}`]);
  const dashed = ip6arpa('fd00', '0010', '0244', '0002', Z, Z, Z, '0007');
  assert.deepEqual(ask(index, dashed, 'PTR'), ['NOERROR', `PTR fd00-10-244-2--7.db.${S}`]);
  // In the zone without a name: NXDOMAIN; an interior node of the tree: empty; not hex: NXDOMAIN.
  const unnamed = ip6arpa('fd00', '0010', '0096', Z, Z, Z, Z, '0099');
  assert.deepEqual(ask(index, unnamed, 'PTR'), ['NXDOMAIN']);
  const interior = ip6arpa('fd00', '0010', '0096', Z, Z, Z, Z, '00');
  assert.deepEqual(ask(index, interior, 'PTR'), ['NOERROR']);
  assert.deepEqual(ask(index, `x.${interior}`, 'PTR'), ['NXDOMAIN']);
});

test('dns ipv6: reverse zones widen IPv6 CIDRs to the nibble boundary', () => {
  assert.deepEqual(reverseZonesFor(['fd00:10:96::/112', 'fd00:10:244::/56', '2001:db8::/30']), [
    ip6arpa('fd00', '0010', '0096', Z, Z, Z, Z),
    ip6arpa('fd00', '0010', '0244', '00'),
    ip6arpa('2001', '0db'),
  ]);
  // IPv4-only ranges give exactly the zones they always did.
  assert.deepEqual(reverseZonesFor(['10.96.0.0/16', '10.244.0.0/16']), [
    '96.10.in-addr.arpa',
    '244.10.in-addr.arpa',
  ]);
});
