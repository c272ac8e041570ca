import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Answer } from 'dns-packet';
import { ClusterIndex } from '../../src/dns/cluster-index.js';
import {
  answerQuestion,
  reverseZonesFor,
  type Result,
  type ZoneConfig,
} from '../../src/dns/records.js';
import { fixtureObjects, pod, service, sliceWriter } from '../helpers/dns-fixtures.js';

const zone: ZoneConfig = {
  domain: 'cluster.local',
  reverseZones: reverseZonesFor(['10.96.0.0/16', '10.244.0.0/16']),
  ttl: 5,
};

function indexOf(objects = fixtureObjects()): ClusterIndex {
  const index = new ClusterIndex('cluster.local');
  index.replaceAll(objects);
  return index;
}

function show(a: Answer): string {
  switch (a.type) {
    case 'SRV':
      return `SRV ${a.data.priority} ${a.data.weight} ${a.data.port} ${a.data.target}`;
    case 'SOA':
      return `SOA ${a.name} ${a.data.minimum}`;
    case 'TXT':
      return `TXT ${String(a.data)}`;
    case 'A':
    case 'AAAA':
    case 'CNAME':
    case 'PTR':
      return `${a.type} ${a.data}`;
    default:
      return a.type;
  }
}

function ask(index: ClusterIndex, name: string, type = 'A', cls = 'IN'): Result {
  return answerQuestion({ name, type, class: cls }, index, zone);
}

const S = 'my-namespace.svc.cluster.local';

// name, type, rcode, answers, authority (SOA owner) when expected
const table: [string, string, string, string[], string?][] = [
  ['dns-version.cluster.local', 'TXT', 'NOERROR', ['TXT 1.1.0']],
  ['dns-version.cluster.local', 'A', 'NOERROR', [], 'cluster.local'],
  ['cluster.local', 'SOA', 'NOERROR', ['SOA cluster.local 5']],
  // ClusterIP service
  [`my-svc.${S}`, 'A', 'NOERROR', ['A 10.96.0.20']],
  [`my-svc.${S}`, 'AAAA', 'NOERROR', [], 'cluster.local'],
  [`_http._tcp.my-svc.${S}`, 'SRV', 'NOERROR', [`SRV 0 100 80 my-svc.${S}`]],
  [`_dns._udp.my-svc.${S}`, 'SRV', 'NOERROR', [`SRV 0 100 53 my-svc.${S}`]],
  [`_dns._tcp.my-svc.${S}`, 'SRV', 'NXDOMAIN', [], 'cluster.local'],
  [`_nope._tcp.my-svc.${S}`, 'SRV', 'NXDOMAIN', [], 'cluster.local'],
  [`_tcp.my-svc.${S}`, 'SRV', 'NOERROR', [], 'cluster.local'],
  [`_sctp.my-svc.${S}`, 'SRV', 'NXDOMAIN', [], 'cluster.local'],
  [`_http._tcp.my-svc.${S}`, 'A', 'NOERROR', [], 'cluster.local'],
  [`10-244-1-5.my-svc.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
  ['20.0.96.10.in-addr.arpa', 'PTR', 'NOERROR', [`PTR my-svc.${S}`]],
  // case-insensitive, question case kept by the owner names (checked below)
  [`MY-SVC.My-Namespace.SVC.Cluster.Local`, 'A', 'NOERROR', ['A 10.96.0.20']],
  // headless: A per ready endpoint (not the unready one), hostnames, SRV per endpoint x port
  [`db.${S}`, 'A', 'NOERROR', ['A 10.244.1.10', 'A 10.244.2.7']],
  [`db-0.db.${S}`, 'A', 'NOERROR', ['A 10.244.1.10']],
  [`10-244-2-7.db.${S}`, 'A', 'NOERROR', ['A 10.244.2.7']],
  [`other.db.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
  [`10-244-2-8.db.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
  [
    `_pg._tcp.db.${S}`,
    'SRV',
    'NOERROR',
    [`SRV 0 100 5433 db-0.db.${S}`, `SRV 0 100 8080 10-244-2-7.db.${S}`],
  ],
  ['10.1.244.10.in-addr.arpa', 'PTR', 'NOERROR', [`PTR db-0.db.${S}`]],
  ['7.2.244.10.in-addr.arpa', 'PTR', 'NOERROR', [`PTR 10-244-2-7.db.${S}`]],
  ['8.2.244.10.in-addr.arpa', 'PTR', 'NXDOMAIN', [], '244.10.in-addr.arpa'],
  ['2.244.10.in-addr.arpa', 'PTR', 'NOERROR', [], '244.10.in-addr.arpa'],
  [`nothing-ready.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
  // ExternalName: a CNAME whatever the type asked
  [`ext.${S}`, 'CNAME', 'NOERROR', ['CNAME db.example.org']],
  [`ext.${S}`, 'A', 'NOERROR', ['CNAME db.example.org']],
  [`ext.${S}`, 'AAAA', 'NOERROR', ['CNAME db.example.org']],
  [`x.ext.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
  // pod records
  ['10-244-1-5.my-namespace.pod.cluster.local', 'A', 'NOERROR', ['A 10.244.1.5']],
  ['10-244-1-5.my-namespace.pod.cluster.local', 'AAAA', 'NOERROR', [], 'cluster.local'],
  ['10-244-1-256.my-namespace.pod.cluster.local', 'A', 'NXDOMAIN', [], 'cluster.local'],
  ['web.my-namespace.pod.cluster.local', 'A', 'NXDOMAIN', [], 'cluster.local'],
  // the tree's interior: existing names without records
  ['svc.cluster.local', 'A', 'NOERROR', [], 'cluster.local'],
  ['pod.cluster.local', 'A', 'NOERROR', [], 'cluster.local'],
  [S, 'A', 'NOERROR', [], 'cluster.local'],
  ['empty-ns.svc.cluster.local', 'A', 'NOERROR', [], 'cluster.local'],
  // names that do not exist, including search-list misses
  ['no-ns.svc.cluster.local', 'A', 'NXDOMAIN', [], 'cluster.local'],
  [`no-svc.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
  [`example.com.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
  ['example.com.svc.cluster.local', 'AAAA', 'NXDOMAIN', [], 'cluster.local'],
  ['example.com.cluster.local', 'A', 'NXDOMAIN', [], 'cluster.local'],
  ['nothing.cluster.local', 'A', 'NXDOMAIN', [], 'cluster.local'],
  [`a.b.c.my-svc.${S}`, 'A', 'NXDOMAIN', [], 'cluster.local'],
];

for (const [name, type, rcode, answers, authority] of table) {
  test(`dns records: ${name} ${type} → ${rcode} ${answers.join(', ') || '(empty)'}`, () => {
    const r = ask(indexOf(), name, type);
    assert.equal(r.kind, 'answer');
    if (r.kind !== 'answer') return;
    assert.equal(r.rcode, rcode);
    assert.equal(r.authoritative, true);
    assert.deepEqual(r.answers.map(show), answers);
    for (const a of r.answers) assert.equal(a.name, name, 'owner name keeps the question case');
    if (authority) assert.deepEqual(r.authorities.map(show), [`SOA ${authority} 5`]);
    else assert.deepEqual(r.authorities, []);
  });
}

test('dns records: SRV answers carry the targets addresses as additionals', () => {
  const r = ask(indexOf(), `_pg._tcp.db.${S}`, 'SRV');
  assert.equal(r.kind, 'answer');
  if (r.kind !== 'answer') return;
  assert.deepEqual(
    r.additionals.map((a) => `${a.name} ${show(a)}`),
    [`db-0.db.${S} A 10.244.1.10`, `10-244-2-7.db.${S} A 10.244.2.7`],
  );
  const c = ask(indexOf(), `_http._tcp.my-svc.${S}`, 'SRV');
  assert.equal(c.kind === 'answer' && c.additionals.map(show).join(), 'A 10.96.0.20');
});

test('dns records: names outside the zones are forwarded; other classes and zone transfers refused', () => {
  assert.deepEqual(ask(indexOf(), 'example.com'), { kind: 'forward' });
  assert.deepEqual(ask(indexOf(), '1.1.168.192.in-addr.arpa', 'PTR'), { kind: 'forward' });
  assert.deepEqual(ask(indexOf(), 'cluster.localx'), { kind: 'forward' });
  const r = ask(indexOf(), `my-svc.${S}`, 'TXT', 'CH');
  assert.equal(r.kind === 'answer' && r.rcode, 'REFUSED');
  const axfr = ask(indexOf(), 'cluster.local', 'AXFR');
  assert.equal(axfr.kind === 'answer' && axfr.rcode, 'REFUSED');
});

test('dns records: SERVFAIL before the first sync, never a wrong NXDOMAIN', () => {
  const index = new ClusterIndex('cluster.local');
  const r = ask(index, `my-svc.${S}`);
  assert.equal(r.kind === 'answer' && r.rcode, 'SERVFAIL');
  index.replaceAll(fixtureObjects());
  const s = ask(index, `my-svc.${S}`);
  assert.equal(s.kind === 'answer' && s.rcode, 'NOERROR');
});

test('dns records: ANY returns every record at the name', () => {
  const r = ask(indexOf(), `my-svc.${S}`, 'ANY');
  assert.deepEqual(r.kind === 'answer' && r.answers.map(show), ['A 10.96.0.20']);
});

test('dns records: the index follows changes one object at a time', () => {
  const index = indexOf();
  const v0 = index.version;
  // a new service answers, a deleted one stops
  index.apply(service('my-namespace', 'new', { clusterIP: '10.96.0.30', ports: [] }));
  assert.ok(index.version > v0);
  assert.deepEqual(names(ask(index, `new.${S}`)), ['A 10.96.0.30']);
  assert.deepEqual(names(ask(index, '30.0.96.10.in-addr.arpa', 'PTR')), [`PTR new.${S}`]);
  index.remove('Service', 'my-namespace', 'new');
  assert.equal(rcode(ask(index, `new.${S}`)), 'NXDOMAIN');
  assert.equal(rcode(ask(index, '30.0.96.10.in-addr.arpa', 'PTR')), 'NXDOMAIN');
  // a pod becoming ready joins the headless service; relabelled away, it leaves
  const cluster = sliceWriter(index, fixtureObjects());
  cluster.applyPod(pod('my-namespace', 'db-down', '10.244.2.8', { app: 'db' }));
  assert.deepEqual(names(ask(index, `db.${S}`)), ['A 10.244.1.10', 'A 10.244.2.7', 'A 10.244.2.8']);
  cluster.applyPod(pod('my-namespace', 'db-down', '10.244.2.8', { app: 'other' }));
  assert.deepEqual(names(ask(index, `db.${S}`)), ['A 10.244.1.10', 'A 10.244.2.7']);
  cluster.removePod('db-0');
  assert.deepEqual(names(ask(index, `db.${S}`)), ['A 10.244.2.7']);
  assert.equal(rcode(ask(index, '10.1.244.10.in-addr.arpa', 'PTR')), 'NXDOMAIN');
  cluster.removePod('db-x');
  assert.equal(rcode(ask(index, `db.${S}`)), 'NXDOMAIN');
});

test('dns records: a pod change that alters no answer keeps the version (and the caches)', () => {
  const index = indexOf();
  const cluster = sliceWriter(index, fixtureObjects());
  const v0 = index.version;
  // a port change of a pod behind a ClusterIP service: no record depends on its slice
  cluster.applyPod(pod('my-namespace', 'web-1', '10.244.1.5', { app: 'web' }, { port: 9090 }));
  cluster.applyPod(pod('my-namespace', 'lonely', '10.244.9.9', { app: 'nothing-selects-me' }));
  assert.equal(index.version, v0);
  // a pod joining a headless service does change answers
  cluster.applyPod(pod('my-namespace', 'db-2', '10.244.9.10', { app: 'db' }));
  assert.ok(index.version > v0);
});

test('dns records: reverse zones widen CIDRs to the octet boundary', () => {
  assert.deepEqual(reverseZonesFor(['10.96.0.0/12', '10.244.0.0/16', '192.168.1.0/24']), [
    '10.in-addr.arpa',
    '244.10.in-addr.arpa',
    '1.168.192.in-addr.arpa',
  ]);
});

function names(r: Result): string[] {
  return r.kind === 'answer' ? r.answers.map(show) : [];
}

function rcode(r: Result): string {
  return r.kind === 'answer' ? r.rcode : 'forward';
}
