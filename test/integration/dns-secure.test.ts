// The cluster DNS as no open resolver, with real dig and a real upstream (dnsmasq, at an IPv6
// address, so the guard is shown over an IPv6 upstream; dns-wire forwards to IPv4): a client
// in the pod range and a node have outside names resolved, a client outside the cluster's
// ranges is REFUSED them but still gets cluster names; a burst of identical questions from
// outside the cluster is answered at the configured rate and otherwise truncated (so dig retries
// over TCP) or dropped, and /metrics counts both; the same burst from a pod is answered in full.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import type { Node } from '../../src/api/types.js';
import { openStore } from '../../src/store/open.js';
import { applyObject } from '../../src/store/objects.js';
import type { Store } from '../../src/store/store.js';
import { sweepStaleNamespaces } from '../helpers/names.js';
import {
  CLIENT_IP,
  SERVER_IP,
  digIn,
  nodeIn,
  namespacePair,
  type NamespacePair,
} from '../helpers/dns-netns.js';
import { fixtureObjects } from '../helpers/dns-fixtures.js';

/** A second address of the client, inside the default pod range (10.244.0.0/16). */
const POD_IP = '10.244.9.2';
/** A third address of the client, made a node's address by a Node object. */
const NODE_IP = '192.0.2.3';
/** The upstream resolver's address, on the server namespace's loopback. */
const UPSTREAM_IP = 'fd00:53::53';
const RATE = 10;
const S = 'my-namespace.svc.cluster.local';

let pair: NamespacePair;
const dir = mkdtempSync(join(tmpdir(), 'podnet-dns-secure-'));
const storeUrl = `sqlite:${join(dir, 'store.db')}`;
const podnet = new URL('../../../bin/podnet', import.meta.url).pathname;
const children: ChildProcess[] = [];
let store: Store;

function dig(source: string, args: string[]): string {
  try {
    return digIn(pair.clientNs, SERVER_IP, ['-b', source, ...args], { time: 1, tries: 1 });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}
const status = (source: string, name: string): string =>
  /status: (\w+)/.exec(dig(source, [name]))?.[1] ?? '(no answer)';

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function metrics(): string {
  return nodeIn(pair.clientNs, [
    '-e',
    `fetch('http://${SERVER_IP}:9153/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))`,
  ]);
}

before(async () => {
  sweepStaleNamespaces();
  pair = namespacePair();
  execFileSync('ip', ['-n', pair.clientNs, '-batch', '-'], {
    input: `addr add ${POD_IP}/24 dev eth0\naddr add ${NODE_IP}/24 dev eth0\n`,
  });
  execFileSync('ip', ['-n', pair.serverNs, '-batch', '-'], {
    input: `addr add 10.244.9.1/24 dev eth0\naddr add ${UPSTREAM_IP}/128 dev lo nodad\n`,
  });
  store = await openStore(storeUrl);
  for (const obj of fixtureObjects()) await applyObject(store, obj);
  const upstream = spawn(
    'ip',
    [
      ...['netns', 'exec', pair.serverNs, 'dnsmasq', '--keep-in-foreground', '--no-resolv'],
      ...['--no-hosts', '--no-poll', `--listen-address=${UPSTREAM_IP}`, '--bind-interfaces'],
      ...['--port=5300', '--local=/example.test/', '--host-record=www.example.test,192.0.2.80'],
      `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      '--user=root',
    ],
    { stdio: 'ignore' },
  );
  const server = spawn(
    'ip',
    [
      ...['netns', 'exec', pair.serverNs, podnet, 'dns', '--store', storeUrl],
      ...['--listen', SERVER_IP, '--upstream', `[${UPSTREAM_IP}]:5300`, '--workers', '1'],
      ...['--metrics', `${SERVER_IP}:9153`, '--rate-limit', String(RATE)],
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(upstream, server);
  await until(() => status(POD_IP, 'www.example.test') === 'NOERROR', 20_000);
});

after(async () => {
  for (const child of children) child.kill('SIGTERM');
  await store?.close();
  pair?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test('dns secure: outside names resolved for pods and nodes, REFUSED to others', async () => {
  assert.match(dig(POD_IP, ['+short', 'www.example.test']), /^192\.0\.2\.80$/m);
  assert.equal(status(CLIENT_IP, 'www.example.test'), 'REFUSED');
  assert.equal(status(CLIENT_IP, 'www.example.test'), 'REFUSED', 'and not from the cache');
  assert.equal(status(NODE_IP, 'www.example.test'), 'REFUSED', 'not a node yet');
  assert.match(dig(CLIENT_IP, ['+short', `my-svc.${S}`]), /^10\.96\.0\.20$/m, 'cluster names');
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'node-9' },
    spec: {},
    status: { addresses: [{ type: 'InternalIP', address: NODE_IP }] },
  };
  await applyObject(store, node);
  await until(() => status(NODE_IP, 'www.example.test') === 'NOERROR', 5000);
  assert.match(metrics(), /^podnet_dns_recursion_refused_total [3-9]\d*$/m);
});

test('dns secure: identical answers to an outside client over the rate are truncated or dropped, a pod’s never; dig over TCP', async () => {
  const query = dnsPacket
    .encode({ type: 'query', id: 1, flags: 256, questions: [{ name: `my-svc.${S}`, type: 'A' }] })
    .toString('hex');
  // 100 identical queries at once from `source`; what comes back within 300 ms, counted by kind.
  const burst = (source: string): Record<string, number> => {
    const script = `
      const s = require('node:dgram').createSocket('udp4');
      const seen = { answered: 0, truncated: 0 };
      s.on('message', (m) => (m[2] & 0x02 ? seen.truncated++ : seen.answered++));
      s.bind({ address: '${source}' }, () => {
        const q = Buffer.from('${query}', 'hex');
        for (let i = 0; i < 100; i++) s.send(q, 53, '${SERVER_IP}');
        setTimeout(() => { process.stdout.write(JSON.stringify(seen)); s.close(); }, 300);
      });`;
    return JSON.parse(nodeIn(pair.clientNs, ['-e', script])) as Record<string, number>;
  };
  const seen = burst(CLIENT_IP);
  const dropped = 100 - seen.answered! - seen.truncated!;
  assert.ok(seen.answered! >= RATE && seen.answered! <= RATE + 5, JSON.stringify(seen));
  assert.ok(seen.truncated! >= 30 && dropped >= 30, JSON.stringify(seen));
  // A pod's lookups are the cluster's own work, and its answers cannot be aimed outside.
  assert.deepEqual(burst(POD_IP), { answered: 100, truncated: 0 }, 'a pod is never limited');
  // With the same question still flooding in from the client's /24, dig gets truncated answers
  // (or none) over UDP, and on a truncated one asks again over TCP, which is answered in full.
  const flood = spawn('ip', [
    ...['netns', 'exec', pair.clientNs, process.execPath, '-e'],
    `const s = require('node:dgram').createSocket('udp4');
     const q = Buffer.from('${query}', 'hex');
     s.bind({ address: '${CLIENT_IP}' }, () => setInterval(() => s.send(q, 53, '${SERVER_IP}'), 10));
     setTimeout(() => process.exit(0), 15000);`,
  ]);
  try {
    // Each try is truncated (every second limited answer) or dropped (dig's 1 s timeout), or
    // answered in full while the flood is still starting: tried until the flood's end is near.
    let tcp = '';
    for (const end = Date.now() + 12_000; Date.now() < end && !tcp.includes('Truncated');)
      tcp = dig(CLIENT_IP, [`my-svc.${S}`]);
    assert.match(tcp, /Truncated, retrying in TCP mode/);
    assert.match(tcp, /^my-svc\.\S+\s+\d+\s+IN\s+A\s+10\.96\.0\.20$/m);
  } finally {
    flood.kill('SIGTERM');
  }
  const text = metrics();
  assert.match(text, /^podnet_dns_rate_limited_total\{action="slip"\} [1-9]\d*$/m);
  assert.match(text, /^podnet_dns_rate_limited_total\{action="drop"\} [1-9]\d*$/m);
});
