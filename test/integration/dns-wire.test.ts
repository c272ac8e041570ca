// podnet's DNS server on the wire, against real dig: the server in one namespace, dig in
// another, linked by a veth pair; dnsmasq (no real resolvers) as the upstream for forwarding.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../../src/api/types.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  SERVER_IP,
  digIn,
  nodeIn,
  namespacePair,
  spawnDnsServe,
  type NamespacePair,
} from '../helpers/dns-netns.js';
import { fixtureObjects, pod, service, withSlices } from '../helpers/dns-fixtures.js';

let pair: NamespacePair;
const dir = mkdtempSync(join(tmpdir(), 'podnet-dns-wire-'));
const children: ChildProcess[] = [];
const S = 'my-namespace.svc.cluster.local';

function sh(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
}

function dig(...args: string[]): string {
  return digIn(pair.clientNs, SERVER_IP, args);
}

function short(...args: string[]): string[] {
  return dig('+short', ...args)
    .trim()
    .split('\n')
    .filter(Boolean)
    .sort();
}

function answers(name: string): boolean {
  try {
    return short(name).length > 0;
  } catch {
    return false; // dig: no server yet
  }
}

function objects(): KubeObject[] {
  // No agent runs here, so the slices the endpoint-slice controller would write come with the
  // objects; 300 endpoints span several slices, which DNS must merge.
  const big: KubeObject[] = [
    namespaceObj('big'),
    service('big', 'many', { clusterIP: 'None', selector: { app: 'many' } }),
  ];
  for (let i = 0; i < 300; i++) {
    big.push(pod('big', `p${i}`, `10.244.${10 + Math.floor(i / 200)}.${i % 200}`, { app: 'many' }));
  }
  return [...fixtureObjects(), ...withSlices(big)];
}

function namespaceObj(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

before(async () => {
  sweepStaleNamespaces();
  pair = namespacePair();
  // The client is a pod of my-namespace: `ip netns exec` puts this over /etc/resolv.conf.
  mkdirSync(`/etc/netns/${pair.clientNs}`, { recursive: true });
  writeFileSync(
    `/etc/netns/${pair.clientNs}/resolv.conf`,
    [
      `nameserver ${SERVER_IP}`,
      'search my-namespace.svc.cluster.local svc.cluster.local cluster.local',
      'options ndots:5',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'objects.json'), JSON.stringify(objects()));
  // The upstream: made-up external names only, never forwarding anywhere.
  children.push(
    spawn(
      'ip',
      [
        'netns',
        'exec',
        pair.serverNs,
        'dnsmasq',
        '--keep-in-foreground',
        '--no-resolv',
        '--no-hosts',
        '--port=5353',
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--address=/example.test/192.0.2.77',
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
        '--user=root',
      ],
      { stdio: 'ignore' },
    ),
  );
  children.push(spawnDnsServe(pair.serverNs, join(dir, 'objects.json'), '127.0.0.1:5353'));
  const deadline = Date.now() + 20_000;
  while (!answers(`my-svc.${S}`)) {
    if (Date.now() > deadline) throw new Error('the DNS server did not come up');
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(() => {
  for (const c of children) c.kill('SIGTERM');
  if (pair) rmSync(`/etc/netns/${pair.clientNs}`, { recursive: true, force: true });
  pair?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('dns wire: dig A for a ClusterIP service', () => {
  assert.deepEqual(short(`my-svc.${S}`), ['10.96.0.20']);
  assert.deepEqual(short(`MY-SVC.My-Namespace.svc.CLUSTER.local`), ['10.96.0.20']);
  const full = dig(`My-Svc.${S}`, 'A');
  assert.match(full, /status: NOERROR/);
  assert.match(full, /flags: qr aa rd ra/);
  assert.match(
    full,
    new RegExp(`^My-Svc\\.${S.replace(/\./g, '\\.')}\\.\\s+5\\s+IN\\s+A\\s+10\\.96\\.0\\.20`, 'm'),
  );
});

test('dns wire: dig SRV per named port, with the target address as additional', () => {
  assert.deepEqual(short(`_http._tcp.my-svc.${S}`, 'SRV'), [`0 100 80 my-svc.${S}.`]);
  const full = dig(`_http._tcp.my-svc.${S}`, 'SRV');
  assert.match(full, /ADDITIONAL: 2/); // the A record and the OPT record
});

test('dns wire: dig PTR for a cluster IP and a headless endpoint', () => {
  assert.deepEqual(short('-x', '10.96.0.20'), [`my-svc.${S}.`]);
  assert.deepEqual(short('-x', '10.244.1.10'), [`db-0.db.${S}.`]);
});

test('dns wire: dig TXT dns-version', () => {
  assert.deepEqual(short('dns-version.cluster.local', 'TXT'), ['"1.1.0"']);
});

test('dns wire: dig CNAME for an ExternalName service', () => {
  assert.deepEqual(short(`ext.${S}`, 'CNAME'), ['db.example.org.']);
});

test('dns wire: dig a headless service, its endpoint names and SRV', () => {
  assert.deepEqual(short(`db.${S}`), ['10.244.1.10', '10.244.2.7']);
  assert.deepEqual(short(`db-0.db.${S}`), ['10.244.1.10']);
  assert.deepEqual(short(`_pg._tcp.db.${S}`, 'SRV'), [
    `0 100 5433 db-0.db.${S}.`,
    `0 100 8080 10-244-2-7.db.${S}.`,
  ]);
});

test('dns wire: dig a pod record', () => {
  assert.deepEqual(short('10-244-1-5.my-namespace.pod.cluster.local'), ['10.244.1.5']);
});

test('dns wire: NXDOMAIN with the zone SOA in authority; AAAA empty NOERROR', () => {
  const nx = dig(`example.com.${S}`);
  assert.match(nx, /status: NXDOMAIN/);
  assert.match(nx, /AUTHORITY: 1/);
  assert.match(
    nx,
    /^cluster\.local\.\s+5\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\./m,
  );
  const aaaa = dig(`my-svc.${S}`, 'AAAA');
  assert.match(aaaa, /status: NOERROR/);
  assert.match(aaaa, /ANSWER: 0/);
});

test('dns wire: TCP answers the same', () => {
  assert.deepEqual(short('+tcp', `my-svc.${S}`), ['10.96.0.20']);
  assert.deepEqual(short('+tcp', `_pg._tcp.db.${S}`, 'SRV').length, 2);
});

test('dns wire: 300 endpoints truncate over UDP (TC); TCP holds all 300', () => {
  const udp = dig('+ignore', '+bufsize=1232', 'many.big.svc.cluster.local');
  assert.match(udp, /flags: qr aa tc rd ra/);
  const plain = dig('+ignore', '+noedns', 'many.big.svc.cluster.local');
  assert.match(plain, /flags: qr aa tc rd ra/);
  assert.equal(short('+tcp', 'many.big.svc.cluster.local').length, 300);
  // dig without +ignore retries over TCP on its own, as resolvers do
  assert.equal(short('many.big.svc.cluster.local').length, 300);
});

test('dns wire: names outside the cluster are forwarded to the upstream and cached', () => {
  assert.deepEqual(short('www.example.test'), ['192.0.2.77']);
  assert.deepEqual(short('Other.Example.Test'), ['192.0.2.77']);
});

test('dns wire: 100,000 random and mutated packets leave the server answering; FORMERR for garbage', (t) => {
  const fuzz = new URL('../helpers/dns-fuzz.js', import.meta.url).pathname;
  const started = Date.now();
  const out = nodeIn(pair.clientNs, [fuzz, SERVER_IP, '53', '100000', '7']);
  const r = JSON.parse(out) as { responses: number; notResponses: number; mismatchedIds: number };
  t.diagnostic(`fuzz: ${out.trim()}`);
  assert.ok(Date.now() - started < 60_000, 'bounded in time');
  assert.ok(r.responses > 10_000, `the server answered during the fuzzing (${r.responses})`);
  assert.equal(r.notResponses, 0, 'everything the server sent is a response');
  assert.equal(r.mismatchedIds, 0, 'every response carries the ID of a query');
  // still answering correctly
  assert.deepEqual(short(`my-svc.${S}`), ['10.96.0.20']);
  assert.deepEqual(short('+tcp', `db.${S}`), ['10.244.1.10', '10.244.2.7']);
  // a malformed query (question cut short) gets FORMERR
  const garbage = Buffer.from('abcd010000010000000000000a6d792d737663', 'hex');
  const reply = nodeIn(pair.clientNs, [
    '-e',
    `const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log(m.toString('hex'));process.exit(0)});` +
      `s.send(Buffer.from('${garbage.toString('hex')}','hex'),53,'${SERVER_IP}');setTimeout(()=>process.exit(3),3000)`,
  ]);
  const resp = Buffer.from(reply.trim(), 'hex');
  assert.equal(resp.readUInt16BE(0), 0xabcd);
  assert.equal(resp[2]! & 0x80, 0x80, 'QR');
  assert.equal(resp[3]! & 0x0f, 1, 'FORMERR');
});

test('dns wire: glibc resolves short names through the search path (getent)', () => {
  const getent = (name: string): string =>
    sh(['ip', 'netns', 'exec', pair.clientNs, 'getent', 'hosts', name]).trim().replace(/\s+/g, ' ');
  assert.equal(getent('my-svc'), `10.96.0.20 my-svc.${S}`);
  assert.equal(getent('my-svc.my-namespace'), `10.96.0.20 my-svc.${S}`);
  assert.equal(getent('my-svc.my-namespace.svc'), `10.96.0.20 my-svc.${S}`);
  // an external name walks the search list (NXDOMAIN each time), then is forwarded
  assert.equal(getent('www.example.test'), '192.0.2.77 www.example.test');
  // not found anywhere: getent's exit code 2
  assert.throws(
    () => getent('no-such-svc'),
    (err: { status?: number }) => err.status === 2,
  );
});
